"""The decode stage: splits a submitted video into keyframe-aligned lossless chunks.

The handler lives in :mod:`pipeline.decode.video_split`; a message that exhausts its
deliveries (or cannot ever succeed) fails its job (``on_give_up``) before it is dead-lettered.
"""

from __future__ import annotations

from collections.abc import Mapping

from common.bus.port import Delivery
from common.contracts import Message, VideoSubmitted
from common.heartbeat import WorkerInfo
from common.runtime import Runtime
from pipeline.decode.video_split import handle_video_submitted
from pipeline.runner import DEFAULT_MESSAGE_TIMEOUT, MessageHandler, Stage
from pipeline.video_jobs import on_give_up


def build_handlers(runtime: Runtime) -> Mapping[str, MessageHandler]:
    async def video_submitted(message: Message, delivery: Delivery) -> None:
        assert isinstance(message, VideoSubmitted)
        await handle_video_submitted(runtime, message, STAGE.message_timeout)

    return {"video.submitted": video_submitted}


def worker_info(runtime: Runtime) -> WorkerInfo:
    return WorkerInfo(stage="decode", device="cpu", device_name="cpu")


STAGE = Stage(name="decode", build_handlers=build_handlers, worker_info=worker_info,
              message_timeout=DEFAULT_MESSAGE_TIMEOUT, on_give_up=on_give_up)
