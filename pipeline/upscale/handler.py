"""The upscale stage: runs the engine on images and video chunks (one process per GPU).

Video chunks (``chunk.ready``) are handled in :mod:`pipeline.upscale.video_chunks`, with one
lazily created Enhancer per process; the image handler joins this table separately. The stage
reports which device it would use, so ``/api/health`` can show the GPU.
"""

from __future__ import annotations

from collections.abc import Mapping

from common.heartbeat import WorkerInfo
from common.runtime import Runtime
from pipeline.runner import MessageHandler, Stage
from pipeline.upscale.video_chunks import chunk_handler
from pipeline.video_jobs import on_give_up


def build_handlers(runtime: Runtime) -> Mapping[str, MessageHandler]:
    return {"chunk.ready": chunk_handler(runtime)}


def worker_info(runtime: Runtime) -> WorkerInfo:
    # The engine's own device choice, so health reports what the models will really use.
    from pipeline.upscale.engine.device import select_runtime  # imports torch: this stage only

    if not runtime.settings.use_gpu:
        return WorkerInfo(stage="upscale", device="cpu", device_name="USE_GPU=FALSE")
    chosen = select_runtime(use_gpu=True, precision=runtime.settings.precision)
    if chosen.is_cuda:
        import torch

        return WorkerInfo("upscale", "cuda", torch.cuda.get_device_name(chosen.device))
    return WorkerInfo(stage="upscale", device="cpu", device_name="CUDA not available")


STAGE = Stage(name="upscale", build_handlers=build_handlers, worker_info=worker_info,
              on_give_up=on_give_up)
