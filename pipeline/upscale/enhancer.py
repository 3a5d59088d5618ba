"""The upscale stage's per-process state: one lazily created Enhancer and its engine thread.

``UpscaleContext`` is what the stage's handlers receive (``Stage.context``): the runtime plus
the ``LazyEnhancer`` both the image and the video-chunk handler run on, so the models load once
per process.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.runtime import Runtime
    from common.settings import Settings
    from pipeline.upscale.engine.engine import Enhancer
    from pipeline.upscale.repeats import ChunkTails


class LazyEnhancer:
    """One Enhancer per process, created on the first job (importing torch is slow).

    Chunks and images run on one dedicated thread: torch's OpenMP pool belongs to the thread
    that calls it, so hopping between ``asyncio.to_thread`` workers would build new pools (and
    leave the old ones spinning) on every job; one thread also keeps one model run at a time,
    so an image and a chunk never compete for the device's memory.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._enhancer: Enhancer | None = None
        self._lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")
        # A video chunk's reading, batching and writing: it hands each batch to ``executor``,
        # so an image queued there runs between two batches (pipeline.upscale.video_chunks).
        self.chunk_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chunk")

    async def ready(self) -> Enhancer:
        """:meth:`get` on the engine thread: the first call imports torch and builds the
        engine (seconds), which on the event loop would stall every consumer, heartbeat and,
        in the embedded run, every API request meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.get)

    def get(self) -> Enhancer:
        with self._lock:
            if self._enhancer is None:
                from pipeline.upscale.engine.engine import Enhancer

                self._enhancer = Enhancer.from_settings(
                    self._settings, batch_size=self._settings.video_batch_frames
                )
            return self._enhancer


def _chunk_tails() -> ChunkTails:
    from pipeline.upscale.repeats import ChunkTails  # numpy and OpenCV: not at import time

    return ChunkTails()


@dataclass(frozen=True, slots=True)
class UpscaleContext:
    runtime: Runtime
    engine: LazyEnhancer
    # The last chunks' tails, so a chunk's first frame can reuse its predecessor's output.
    tails: ChunkTails = field(default_factory=_chunk_tails)

    @classmethod
    def open(cls, runtime: Runtime) -> UpscaleContext:
        from pipeline.upscale.gpu_metrics import register_gpu_metrics

        register_gpu_metrics()
        return cls(runtime, LazyEnhancer(runtime.settings))
