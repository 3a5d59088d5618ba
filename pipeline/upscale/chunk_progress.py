"""A video chunk's progress on its job: frames written (batch by batch) and frames reused.

``frames_processed`` advances after each batch (``advance_progress``: each frame counted once
whatever the redeliveries, never backwards); ``frames_reused`` is added once per chunk when
its result is stored (``add_progress_once`` keyed by the chunk index). The Prometheus
counters count exactly what the job document gained, so they too count each frame once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import TYPE_CHECKING

from common.jobs import fields as F
from common.jobs.status import VideoStatus
from common.metrics import FRAMES_PROCESSED, FRAMES_REUSED
from common.store.jobs import add_progress_once, advance_progress

if TYPE_CHECKING:
    from bson import ObjectId

    from common.runtime import Runtime

log = logging.getLogger(__name__)


async def count_frames(runtime: Runtime, video_id: ObjectId, index: int, reached: int,
                       model_type: str) -> None:
    """The chunk has ``reached`` frames: the job's progress, and the frames metric for
    exactly what this call added (so the metric, too, counts each frame once)."""
    added = await advance_progress(runtime.store.videos, video_id, index, reached,
                                   F.FRAMES_PROCESSED, in_states=[VideoStatus.IN_PROGRESS])
    FRAMES_PROCESSED.labels(model_type).inc(added)


async def count_reused(runtime: Runtime, video_id: ObjectId, index: int, reused: int,
                       model_type: str) -> None:
    """The chunk's reused frames, added to the job once per chunk (a redelivery adds
    nothing), and to the metric only when added."""
    if reused and await add_progress_once(runtime.store.videos, video_id, index,
                                          F.FRAMES_REUSED, reused,
                                          in_states=[VideoStatus.IN_PROGRESS]):
        FRAMES_REUSED.labels(model_type).inc(reused)


class BatchProgress:
    """The chunk's frames done so far, reported from the chunk's thread after each batch and
    written to the job by the event loop (``advance_progress``: exactly once per frame,
    never backwards). Writes may trail the batches; ``settled`` waits for all of them."""

    def __init__(self, runtime: Runtime, video_id: ObjectId, index: int,
                 model_type: str) -> None:
        self._runtime, self._video_id, self._index = runtime, video_id, index
        self._model_type = model_type
        self._loop = asyncio.get_running_loop()
        self._pending: list[concurrent.futures.Future[None]] = []

    def reached(self, frames: int) -> None:
        self._pending.append(asyncio.run_coroutine_threadsafe(count_frames(
            self._runtime, self._video_id, self._index, frames, self._model_type), self._loop))

    async def settled(self) -> None:
        for future in self._pending:
            try:
                await asyncio.wrap_future(future)
            except Exception:  # progress is informative; the chunk's own result decides
                log.warning("video %s chunk %d: a progress update failed", self._video_id,
                            self._index, exc_info=True)
