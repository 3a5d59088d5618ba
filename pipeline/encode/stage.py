"""The encode stage: H.264-encodes upscaled chunks and muxes the finished video.

Handlers live in :mod:`pipeline.encode.video_handlers`; a message that exhausts its
deliveries fails its job (``on_give_up``) before it is dead-lettered.
"""

from __future__ import annotations

from common.contracts import ChunkUpscaled, VideoAssemble, VideoSplit
from common.heartbeat import WorkerInfo
from common.runtime import Runtime
from pipeline.encode.video_handlers import (
    handle_assemble,
    handle_chunk_upscaled,
    handle_video_split,
)
from pipeline.runner import Stage
from pipeline.video_jobs import on_give_up


def worker_info(runtime: Runtime) -> WorkerInfo:
    return WorkerInfo(stage="encode", device="cpu", device_name="cpu")


STAGE = Stage(name="encode",
              handlers={ChunkUpscaled: handle_chunk_upscaled, VideoSplit: handle_video_split,
                        VideoAssemble: handle_assemble},
              worker_info=worker_info, on_give_up=on_give_up)
