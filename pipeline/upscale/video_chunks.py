"""The upscale stage's video-chunk work: decode a chunk, enhance in batches, store losslessly.

Kept apart from the image handler (``image.submitted``, :mod:`pipeline.upscale.image_jobs`)
so each stays small; both run on the one ``LazyEnhancer`` of the stage's ``UpscaleContext``.
``upscale_chunk`` is the pure media step (any ``enhance`` function: the engine in production, a
plain resize in fidelity tests); ``handle_chunk_ready`` is the idempotent message handler.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from common.contracts import ChunkReady, ChunkUpscaled
from common.errors import InvalidInput, PermanentFailure
from common.jobs import chunks as C
from common.jobs import fields as F
from common.jobs.blobs import BlobKind
from common.media.intermediate import read_frames
from common.messaging import publish
from common.metrics import WORKER_FPS
from common.store.ids import utcnow
from pipeline.cancellation import StopToken, run_stoppable
from pipeline.runner import stop_token
from pipeline.upscale.chunk_progress import BatchProgress, count_frames, count_reused
from pipeline.upscale.chunk_writer import ChunkWriter
from pipeline.upscale.repeats import RepeatFilter
from pipeline.video_jobs import (
    claim_chunk_blob,
    download,
    drop_if_cancelled,
    load_active_chunk,
    release_chunk,
    video_oid,
)

if TYPE_CHECKING:
    from pipeline.upscale.enhancer import UpscaleContext

log = logging.getLogger(__name__)

EnhanceFn = Callable[[np.ndarray], np.ndarray]
# Frames per distinct frame a batch may hold before it is written anyway.
_HELD_PER_FRAME = 4


def upscale_chunk(in_path: Path, out_path: Path, enhance: EnhanceFn,
                  batch_frames: int, stop: StopToken | None = None,
                  on_batch: Callable[[int], None] | None = None,
                  repeats: RepeatFilter | None = None) -> dict[str, Any]:
    """Enhance every frame of ``in_path`` into ``out_path`` with the same pts, in batches.

    A frame that ``repeats`` (exact repeats only by default) finds repeated does not go to
    the model: the previous output is written again under the frame's own pts. A batch holds
    ``batch_frames`` distinct frames and the repeats between them.

    Each enhanced batch goes to a :class:`ChunkWriter` (FFV1 on its own thread, two batches
    queued at most) and the next batch is enhanced at once: the engine never waits for its
    own write unless the writer falls two batches behind. ``stop`` is checked before every
    batch (``enhance`` may check it more often). ``on_batch`` gets the frames written so far
    (reused ones included) after each batch (the job's progress). The summary's ``reused``
    counts the repeats, ``writer_wait_s`` the time the engine did wait for the writer.
    """
    repeats = repeats or RepeatFilter()
    batch: list[np.ndarray] = []  # the distinct frames, for the model
    slots: list[int | None] = []  # each frame's row in ``batch``; None: the previous output
    stamps: list[int] = []
    time_base = Fraction(1, 1000)
    done = 0
    with ChunkWriter(out_path) as writer:

        def flush() -> None:
            if not slots:
                return
            if stop is not None:
                stop.check()
            enhanced = enhance(np.stack(batch)) if batch else None
            outputs = []
            for slot in slots:
                if slot is not None:
                    assert enhanced is not None
                    repeats.last_output = enhanced[slot]
                assert repeats.last_output is not None  # a repeat always follows a frame
                outputs.append(repeats.last_output)
            writer.put(outputs, stamps, time_base)
            nonlocal done
            done += len(slots)
            if on_batch is not None:
                on_batch(done)
            batch.clear()
            slots.clear()
            stamps.clear()

        for frame, pts, clock in read_frames(in_path):
            time_base = clock  # frames are written with the chunk's own time base
            picture = frame.to_ndarray(format="rgb24")
            if repeats.repeats(picture):
                slots.append(None)
            else:
                if len(batch) >= batch_frames:  # full: it goes with the repeats that follow
                    flush()
                slots.append(len(batch))
                batch.append(picture)
            stamps.append(pts)
            # A long still fills no batch: its repeats are still written (and counted) in
            # bounded groups.
            if len(slots) >= batch_frames * _HELD_PER_FRAME:
                flush()
        flush()
        made = writer.close()
    if not made["frames"]:
        raise InvalidInput("el fragmento no contiene frames")
    return {**made, "reused": repeats.reused,
            "writer_wait_s": round(writer.waited_seconds, 3)}


async def handle_chunk_ready(ctx: UpscaleContext, msg: ChunkReady) -> None:
    runtime, engine = ctx.runtime, ctx.engine
    store = runtime.store
    video_id = video_oid(msg.video_id)
    loaded = await load_active_chunk(runtime, video_id, msg.chunk_index)
    if loaded is None:
        return
    video, record = loaded
    blob_id = record.get(C.blob_field(BlobKind.UPSCALED))
    info = record.get(BlobKind.UPSCALED)
    if not blob_id:
        await store.chunks.update_one(
            {**C.chunk_filter(video_id, msg.chunk_index), C.UPSCALE_STARTED_AT: None},
            {"$set": {C.UPSCALE_STARTED_AT: utcnow()}})
        enhancer = await engine.ready()
        with tempfile.TemporaryDirectory(prefix="upscale-") as tmp:
            source = Path(tmp) / "chunk.nut"
            target = Path(tmp) / "upscaled.nut"
            started = time.perf_counter()
            await download(store, msg.chunk_blob, source)
            fetched = time.perf_counter()

            stop = stop_token()
            progress = BatchProgress(runtime, video_id, msg.chunk_index, msg.model_type)

            def enhance(frames: np.ndarray) -> np.ndarray:
                # Each batch is its own task on the engine thread, so an image waiting there
                # runs between two batches instead of after the whole chunk (the image lane).
                return engine.executor.submit(
                    contextvars.copy_context().run, enhancer.enhance_frames, frames,
                    model_type=msg.model_type, scale=msg.scale,
                    face_enhance=msg.face_enhance, stop=stop).result()

            def upscale() -> dict[str, Any]:
                # On the chunk thread, one chunk after the other: the previous chunk's tail
                # is kept before the next chunk looks for it.
                repeats = RepeatFilter(video.get(F.SKIP_SIMILAR),
                                       ctx.tails.before(msg.video_id, msg.chunk_index))
                made = upscale_chunk(source, target, enhance,
                                     runtime.settings.video_batch_frames, stop,
                                     progress.reached, repeats)
                ctx.tails.keep(msg.video_id, msg.chunk_index, repeats.tail())
                return made

            # The chunk's own thread reads, batches and writes; only the model runs on the
            # engine thread.
            try:
                async with asyncio.timeout(_own_deadline(stop)):
                    made = await run_stoppable(engine.chunk_executor, upscale, stop)
            except InvalidInput as exc:  # the stored chunk reads the same way every time
                raise PermanentFailure(f"fragmento {msg.chunk_index}: {exc}") from exc
            except TimeoutError as exc:
                raise PermanentFailure(_too_slow(msg.chunk_index)) from exc
            finally:
                await progress.settled()
            enhanced = time.perf_counter()
            waited = made.pop("writer_wait_s")  # for the log; the chunk record keeps the rest
            WORKER_FPS.labels(msg.model_type).set(made["frames"] / (enhanced - fetched))
            blob_id = await claim_chunk_blob(runtime, video_id, msg.chunk_index,
                                             BlobKind.UPSCALED, target, made)
            # Where a chunk's time goes, for operators sizing workers (and for bench/pipeline).
            log.info("video %s chunk %d: %d frames (%d reused) upscaled in %.2f s (%.2f fps); "
                     "download %.0f ms, store %.0f ms, waited for the writer %.0f ms",
                     msg.video_id, msg.chunk_index, made["frames"], made["reused"],
                     enhanced - fetched,
                     made["frames"] / (enhanced - fetched), (fetched - started) * 1000,
                     (time.perf_counter() - enhanced) * 1000, waited * 1000)
        if blob_id is None or await drop_if_cancelled(runtime, video_id):
            return
        if enhancer.gpu_used:
            await store.videos.update_one({F.ID: video_id}, {"$set": {F.GPU_USED: True}})
        else:
            await store.videos.update_one({F.ID: video_id, F.GPU_USED: None},
                                          {"$set": {F.GPU_USED: False}})
        # The info stored with the blob that won the claim (a racing delivery's, maybe).
        claimed = await store.chunks.find_one(C.chunk_filter(video_id, msg.chunk_index))
        info = (claimed or {}).get(BlobKind.UPSCALED, made)
    assert info is not None
    await publish(runtime.bus, ChunkUpscaled(
        video_id=msg.video_id, chunk_index=msg.chunk_index, chunk_count=msg.chunk_count,
        upscaled_blob=blob_id, frame_count=info["frames"], width=info["width"],
        height=info["height"],
    ))
    # The whole chunk, whatever its batches reported (a redelivery that reused the blob
    # reported none); advance_progress adds only what was not counted yet.
    await count_frames(runtime, video_id, msg.chunk_index, info["frames"], msg.model_type)
    await count_reused(runtime, video_id, msg.chunk_index, int(info.get("reused") or 0),
                       msg.model_type)
    if msg.version >= 2:  # v1 chunks were all published at once by the previous release
        await release_chunk(runtime, video_id,
                            msg.chunk_index + runtime.settings.video_chunks_in_flight,
                            model_type=msg.model_type, scale=msg.scale,
                            face_enhance=msg.face_enhance)


# The handler stops itself this long before the runner's deadline (a tenth of what is left,
# a second at least: the engine thread finishes its batch first), so that a chunk too long
# for the time per message fails its video at once: the same chunk on the same worker would
# time out again on every redelivery.
_DEADLINE_MARGIN = 0.1


def _own_deadline(stop: StopToken) -> float | None:
    """Seconds the enhancement may take: the message's time, less a margin (None: no limit)."""
    if stop.deadline is None:
        return None
    left = stop.deadline - time.monotonic()
    return max(0.0, left - max(1.0, _DEADLINE_MARGIN * left))


def _too_slow(index: int) -> str:
    return (f"fragmento {index}: no terminó en el tiempo máximo por mensaje; reduzca "
            "VIDEO_CHUNK_MAX_FRAMES o aumente BUS_CONSUMER_TIMEOUT_SECONDS (y el "
            "consumer_timeout del broker a la par)")

