"""The upscale stage: runs the engine on images and video chunks (one process per GPU).

The image and chunk handlers arrive with their issues; until then their messages are
dead-lettered with a clear reason instead of being dropped. The stage already reports which
device it would use, so ``/api/health`` can show the GPU.
"""

from __future__ import annotations

from collections.abc import Mapping

from common.heartbeat import WorkerInfo
from common.runtime import Runtime
from pipeline.runner import MessageHandler, Stage


def build_handlers(runtime: Runtime) -> Mapping[str, MessageHandler]:
    return {}


def worker_info(runtime: Runtime) -> WorkerInfo:
    if not runtime.settings.use_gpu:
        return WorkerInfo(stage="upscale", device="cpu", device_name="USE_GPU=FALSE")
    import torch  # only the upscale stage pays for importing torch

    if torch.cuda.is_available():
        return WorkerInfo(stage="upscale", device="cuda", device_name=torch.cuda.get_device_name(0))
    return WorkerInfo(stage="upscale", device="cpu", device_name="CUDA not available")


STAGE = Stage(name="upscale", build_handlers=build_handlers, worker_info=worker_info)
