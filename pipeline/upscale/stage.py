"""The upscale stage: runs the engine on images and video chunks (one process per GPU).

Images (``image.submitted``) are handled in :mod:`pipeline.upscale.image_jobs`, video chunks
(``chunk.ready``) in :mod:`pipeline.upscale.video_chunks`; both receive the stage's
``UpscaleContext`` (:mod:`pipeline.upscale.enhancer`): one lazily created Enhancer per process
and its single engine thread, so the models load once. A message about to be dead-lettered
fails its image or its video. The stage reports which device it would use and which models
it can run (``common.model_status``), so the API can show both and refuse a job whose model
cannot be had.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bson import ObjectId

from common.contracts import ChunkReady, ImageJobSubmitted, Message
from common.heartbeat import WorkerInfo
from common.model_status import REPORT_FIELD
from common.runtime import Runtime
from pipeline import video_jobs
from pipeline.runner import Stage
from pipeline.upscale.enhancer import UpscaleContext
from pipeline.upscale.image_jobs import fail_image, handle_image_submitted
from pipeline.upscale.video_chunks import handle_chunk_ready


async def on_give_up(runtime: Runtime, message: Message, reason: str) -> None:
    """The runner's hook for a message about to be dead-lettered: fail its image or video."""
    if isinstance(message, ImageJobSubmitted):
        await fail_image(runtime, ObjectId(message.image_id), reason)
    else:
        await video_jobs.on_give_up(runtime, message, reason)


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


async def models_report(ctx: UpscaleContext) -> dict[str, Any]:
    """The heartbeat's ``models``: each model's weights state on this host (no torch)."""
    from pipeline.upscale.engine import weights

    states = await asyncio.to_thread(weights.report, ctx.runtime.settings.models_dir)
    return {REPORT_FIELD: {key: state.to_doc() for key, state in states.items()}}


# One message at a time per queue: a chunk prefetched behind a long one would wait unacked
# outside any deadline (pipeline.runner.consumer_limits). Images have their own lane (queue
# ``images``): a worker upscaling a chunk also holds one image, and the engine thread runs it
# between two of the chunk's batches (see docs/ARQUITECTURA.md, "Equidad").
STAGE = Stage(name="upscale",
              handlers={ImageJobSubmitted: handle_image_submitted, ChunkReady: handle_chunk_ready},
              context=UpscaleContext.open, worker_info=worker_info, on_give_up=on_give_up,
              report=models_report, prefetch=1, lanes=("images",))
