"""The encode stage: H.264-encodes upscaled chunks and muxes the finished video.

Handlers live in :mod:`pipeline.encode.video_handlers`; a message that exhausts its
deliveries fails its job (``on_give_up``) before it is dead-lettered.
"""

from __future__ import annotations

from collections.abc import Mapping

from common.bus.port import Delivery
from common.contracts import ChunkUpscaled, Message, VideoAssemble
from common.heartbeat import WorkerInfo
from common.runtime import Runtime
from pipeline.encode.video_handlers import handle_assemble, handle_chunk_upscaled
from pipeline.runner import MessageHandler, Stage
from pipeline.video_jobs import on_give_up


def build_handlers(runtime: Runtime) -> Mapping[str, MessageHandler]:
    async def chunk_upscaled(message: Message, delivery: Delivery) -> None:
        assert isinstance(message, ChunkUpscaled)
        await handle_chunk_upscaled(runtime, message)

    async def video_assemble(message: Message, delivery: Delivery) -> None:
        assert isinstance(message, VideoAssemble)
        await handle_assemble(runtime, message)

    return {"chunk.upscaled": chunk_upscaled, "video.assemble": video_assemble}


def worker_info(runtime: Runtime) -> WorkerInfo:
    return WorkerInfo(stage="encode", device="cpu", device_name="cpu")


STAGE = Stage(name="encode", build_handlers=build_handlers, worker_info=worker_info,
              on_give_up=on_give_up)
