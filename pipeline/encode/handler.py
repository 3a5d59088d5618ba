"""The encode stage: H.264-encodes upscaled chunks and muxes the finished video.

Its message handlers arrive with the video issue; until then a ``chunk.upscaled`` message is
dead-lettered with a clear reason instead of being dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

from common.heartbeat import WorkerInfo
from common.runtime import Runtime
from pipeline.runner import MessageHandler, Stage


def build_handlers(runtime: Runtime) -> Mapping[str, MessageHandler]:
    return {}


def worker_info(runtime: Runtime) -> WorkerInfo:
    return WorkerInfo(stage="encode", device="cpu", device_name="cpu")


STAGE = Stage(name="encode", build_handlers=build_handlers, worker_info=worker_info)
