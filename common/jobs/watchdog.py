"""The watchdog: no job stays pending, processing or in progress forever.

A job is *stalled* when it is still running, nothing about it moved (``updated_at``: every
status change and every batch of progress stamps it) for longer than the longest time one
message may take (``stall``), and no message for it waits anywhere: the durable bus answers
that exactly (its messages carry the ``job`` header, see ``common.messaging``); RabbitMQ
cannot be searched, so there the watchdog acts only while the job's queues hold no ready
message (a job still waiting its turn behind others is not stalled; one whose message is
in a handler moves, or the handler's time limit ends the delivery).

A stalled job is *re-driven* from what is stored: an image gets its ``image.submitted``
again, a video its ``video.submitted`` (the split is deterministic and every stage keyed by
job and chunk: chunks already cut, upscaled or encoded are reused, not redone, and counters
do not move twice). That recovers a message lost with a wiped broker volume, a purge, or a
process that stopped without the durable bus. A job re-driven ``MAX_REDRIVES`` times
without moving, or whose original is gone, is failed with a message in the manual's style.
What it did is counted in ``enhancer_watchdog_jobs{kind, action}``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from common.contracts import ImageJobSubmitted, JobKind, Message, VideoSubmitted
from common.jobs import fields as F
from common.jobs.cleanup import remove_video_temporaries
from common.jobs.lifecycle import ended
from common.jobs.status import (
    IMAGE_ACTIVE,
    IMAGE_ERROR_PREFIX,
    VIDEO_ACTIVE,
    VIDEO_ERROR_PREFIX,
    ImageStatus,
    VideoStatus,
)
from common.messaging import publish
from common.metrics import WATCHDOG_JOBS
from common.runtime import Runtime
from common.store.ids import utcnow
from common.store.jobs import transition

log = logging.getLogger(__name__)

MAX_REDRIVES = 3
BATCH = 200
# The queues a running job's messages can be in.
QUEUES: dict[JobKind, list[str]] = {"image": ["images", "upscale"],
                                    "video": ["decode", "upscale", "encode"]}
GAVE_UP = ("el trabajo quedó detenido y no pudo reanudarse tras {n} intentos; "
           "envíelo de nuevo")
NO_ORIGINAL = "el trabajo quedó detenido y su archivo original ya no está disponible"


@dataclass(frozen=True, slots=True)
class Watched:
    redriven: int = 0
    failed: int = 0


async def watch(runtime: Runtime, *, stall: timedelta) -> Watched:
    """One pass over both kinds of job; what it did."""
    redriven = failed = 0
    for kind in ("image", "video"):
        r, f = await _watch_kind(runtime, kind, stall)
        redriven, failed = redriven + r, failed + f
    return Watched(redriven, failed)


async def _watch_kind(runtime: Runtime, kind: JobKind, stall: timedelta) -> tuple[int, int]:
    jobs = runtime.store.images if kind == "image" else runtime.store.videos
    active = IMAGE_ACTIVE if kind == "image" else VIDEO_ACTIVE
    quiet = [doc async for doc in jobs.find(
        {F.STATUS: {"$in": list(active)}, F.UPDATED_AT: {"$lt": utcnow() - stall}},
        limit=BATCH)]
    if not quiet:
        return 0, 0
    waiting = await _with_messages(runtime, kind, [str(doc[F.ID]) for doc in quiet])
    if waiting is None:
        return 0, 0
    redriven = failed = 0
    for doc in quiet:
        if str(doc[F.ID]) in waiting:
            continue
        if await _redrive(runtime, kind, doc):
            redriven += 1
        else:
            failed += 1
    return redriven, failed


async def _with_messages(runtime: Runtime, kind: JobKind, ids: list[str]) -> set[str] | None:
    """The ids among ``ids`` that still have a message; None: maybe all of them."""
    held = await runtime.bus.jobs_with_messages(QUEUES[kind], ids)
    if held is not None:
        return held
    for queue in QUEUES[kind]:
        if (await runtime.bus.depths(queue)).ready:
            return None
    return set()


async def _redrive(runtime: Runtime, kind: JobKind, doc: dict[str, Any]) -> bool:
    """Publish the job's first message again; False when it was failed instead."""
    jobs = runtime.store.images if kind == "image" else runtime.store.videos
    tries = int(doc.get(F.WATCHDOG_REDRIVES) or 0)
    original = doc.get(F.ORIGINAL_BLOB)
    if tries >= MAX_REDRIVES or not original or not await runtime.store.blobs.exists(original):
        reason = GAVE_UP.format(n=tries) if tries >= MAX_REDRIVES else NO_ORIGINAL
        await fail_stalled(runtime, kind, doc, reason)
        return False
    # Stamping updated_at gives the message a whole stall period before the next look.
    moved = await jobs.update_one(
        {F.ID: doc[F.ID], F.UPDATED_AT: doc.get(F.UPDATED_AT)},
        {"$inc": {F.WATCHDOG_REDRIVES: 1}, "$set": {F.UPDATED_AT: utcnow()}})
    if moved.modified_count != 1:
        return True  # it moved meanwhile, or another watchdog took it: not stalled
    await publish(runtime.bus, first_message(kind, doc))
    WATCHDOG_JOBS.labels(kind, "redriven").inc()
    log.warning("watchdog: %s %s had not moved since %s and had no message; re-driven "
                "(%d of %d)", kind, doc[F.ID], doc.get(F.UPDATED_AT), tries + 1, MAX_REDRIVES)
    return True


def first_message(kind: JobKind, doc: dict[str, Any]) -> Message:
    """The message that started the job, rebuilt from its document."""
    common = {"user_id": str(doc[F.USER_ID]), "original_blob": str(doc[F.ORIGINAL_BLOB]),
              "model_type": doc[F.MODEL_TYPE], "scale": doc[F.SCALE],
              "face_enhance": bool(doc.get(F.FACE_ENHANCE))}
    if kind == "image":
        return ImageJobSubmitted(image_id=str(doc[F.ID]), output_width=doc.get(F.OUTPUT_WIDTH),
                                 output_height=doc.get(F.OUTPUT_HEIGHT),
                                 output_format=doc.get(F.OUTPUT_FORMAT) or "png", **common)
    return VideoSubmitted(video_id=str(doc[F.ID]), **common)


async def fail_stalled(runtime: Runtime, kind: JobKind, doc: dict[str, Any],
                       reason: str) -> None:
    job_id = doc[F.ID]
    status: str
    if kind == "image":
        status, jobs, text = ImageStatus.FAILED, runtime.store.images, IMAGE_ERROR_PREFIX + reason
    else:
        status, jobs, text = VideoStatus.ERROR, runtime.store.videos, VIDEO_ERROR_PREFIX + reason
    active = IMAGE_ACTIVE if kind == "image" else VIDEO_ACTIVE
    moved = await transition(jobs, job_id, active, status, {F.ERROR_MESSAGE: text})
    if moved:
        WATCHDOG_JOBS.labels(kind, "failed").inc()
        log.warning("watchdog: %s %s failed: %s", kind, job_id, reason)
    await ended(runtime, kind, job_id, moved=moved, status=status,
                model=str(doc.get(F.MODEL_TYPE)), created_at=doc.get(F.CREATED_AT))
    if kind == "video":
        await remove_video_temporaries(runtime.store, job_id)
