"""The decode stage: splits a submitted video into keyframe-aligned lossless chunks.

The handler lives in :mod:`pipeline.decode.video_split`; a message that exhausts its
deliveries (or cannot ever succeed) fails its job (``on_give_up``) before it is dead-lettered.
"""

from __future__ import annotations

from datetime import timedelta

from common.contracts import VideoSubmitted
from common.heartbeat import WorkerInfo
from common.jobs.sweep import sweep
from common.jobs.watchdog import watch
from common.runtime import Runtime
from pipeline.decode.video_split import MESSAGE_TIMEOUT, handle_video_submitted
from pipeline.runner import Chore, Stage, longest_message_seconds
from pipeline.video_jobs import on_give_up

# Uploads and job submissions finish within this; anything older without an owner is lost.
SWEEP_GRACE = timedelta(hours=1)
# Beyond the longest message time (a delivery cut at its limit is handed back and retaken)
# before a quiet job counts as stalled.
STALL_FACTOR = 1.1


async def sweep_chore(runtime: Runtime) -> None:
    """Orphaned GridFS data and expired results (common.jobs.sweep): decode workers are the
    lightest, and any number of them may sweep at once."""
    days = runtime.settings.result_retention_days
    await sweep(runtime.store, grace=SWEEP_GRACE, retention_days=days or None)


async def watchdog_chore(runtime: Runtime) -> None:
    """Stalled jobs re-driven or failed (common.jobs.watchdog); safe in several workers."""
    stall = timedelta(seconds=longest_message_seconds(runtime.settings) * STALL_FACTOR)
    await watch(runtime, stall=stall)


CHORES = (Chore(sweep_chore, lambda settings: settings.sweep_interval_seconds),
          Chore(watchdog_chore, lambda settings: settings.watchdog_interval_seconds))


def worker_info(runtime: Runtime) -> WorkerInfo:
    return WorkerInfo(stage="decode", device="cpu", device_name="cpu")


# One message at a time: a split can run for many minutes, and a second message prefetched
# behind it would wait unacked for all of them (see pipeline.runner.consumer_limits).
STAGE = Stage(name="decode", handlers={VideoSubmitted: handle_video_submitted},
              worker_info=worker_info, message_timeout=MESSAGE_TIMEOUT, on_give_up=on_give_up,
              prefetch=1, chores=CHORES)
