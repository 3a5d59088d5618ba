"""The encode stage's handlers: H.264 per chunk, then the final Matroska file once per job.

``chunk.upscaled``: encode the chunk (once: the chunk record remembers its encoded blob), then
count it once in ``chunks_encoded``; whoever sees the count reach ``chunk_count`` publishes
``video.assemble`` (a duplicate publish is harmless). Decode streams its chunks (contract v2),
so the count is known only once ``video.split`` arrives: until then the job's ``chunk_count``
is None and no chunk can be the last. Both sides write their part (decode the count, encode the
counter) before reading the other's, so whichever comes second sees both and asks for the
assembly. A v1 ``chunk.upscaled`` carries the count itself. ``video.assemble``: join the chunks with
the source's audio/subtitles, store the result, complete the job (exactly one writer wins the
``in_progress → completed`` transition), then remove the job's temporary blobs and records.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path, PurePath
from typing import Any

from common.contracts import ChunkUpscaled, VideoAssemble, VideoSplit
from common.errors import InvalidInput, PermanentFailure, ProcessingError
from common.jobs import chunks as C
from common.jobs import fields as F
from common.jobs.blobs import BlobKind, video_blob
from common.jobs.cleanup import remove_video_temporaries
from common.jobs.lifecycle import ended, keep_if_claimed
from common.jobs.status import VideoStatus
from common.media.containers import sniff_container
from common.messaging import publish
from common.runtime import Runtime
from common.store.ids import utcnow
from common.store.jobs import add_progress_once_returning, transition
from common.webhooks.notify import notify_finished
from pipeline.encode.assemble import assemble
from pipeline.encode.h264 import encode_chunk
from pipeline.video_jobs import (
    claim_chunk_blob,
    download,
    drop_if_cancelled,
    load_active_chunk,
    load_active_video,
    store_file,
    video_oid,
)

log = logging.getLogger(__name__)
ENCODED = C.blob_field(BlobKind.ENCODED)


def _nominal_rate(video: dict[str, Any]) -> str | None:
    timing = video.get(F.TIMING) or {}
    return None if timing.get("vfr") else timing.get("frame_rate") or video.get(F.FRAME_RATE)


async def handle_chunk_upscaled(runtime: Runtime, msg: ChunkUpscaled) -> None:
    store = runtime.store
    video_id = video_oid(msg.video_id)
    loaded = await load_active_chunk(runtime, video_id, msg.chunk_index)
    if loaded is None:
        return
    video, record = loaded
    if not record.get(ENCODED):
        # Before the split ends the job's rate is the probe's (the exact timing comes with the
        # last chunk); it only guides rate control here, every frame keeps its own pts.
        settings = runtime.settings
        with tempfile.TemporaryDirectory(prefix="encode-") as tmp:
            source, target = Path(tmp) / "upscaled.nut", Path(tmp) / "encoded.nut"
            await download(store, msg.upscaled_blob, source)
            started = time.perf_counter()
            try:
                info = await asyncio.to_thread(
                    encode_chunk, source, target, crf=settings.video_crf,
                    preset=settings.video_preset, frame_rate=_nominal_rate(video),
                )
            except InvalidInput as exc:  # the stored chunk reads the same way every time
                raise PermanentFailure(f"fragmento {msg.chunk_index}: {exc}") from exc
            log.info("video %s chunk %d: H.264 (%s) of %d frames %dx%d in %.2f s",
                     msg.video_id, msg.chunk_index, settings.video_preset, info["frames"],
                     info["width"], info["height"], time.perf_counter() - started)
            blob_id = await claim_chunk_blob(runtime, video_id, msg.chunk_index,
                                             BlobKind.ENCODED, target, info)
        if blob_id is None or await drop_if_cancelled(runtime, video_id):
            return
    after = await add_progress_once_returning(
        store.videos, video_id, key=msg.chunk_index, field=F.CHUNKS_ENCODED, amount=1,
        in_states=[VideoStatus.IN_PROGRESS],
    )
    # Not counted now means counted before: that delivery may have died before publishing.
    job = after or await store.videos.find_one({F.ID: video_id})
    await _assemble_when_all_encoded(runtime, msg.video_id, job, msg.chunk_count)


async def handle_video_split(runtime: Runtime, msg: VideoSplit) -> None:
    """Decode ended the split (the job holds the count now): assemble if every chunk is
    already encoded, else the last ``chunk.upscaled`` will."""
    job = await runtime.store.videos.find_one({F.ID: video_oid(msg.video_id)})
    await _assemble_when_all_encoded(runtime, msg.video_id, job, msg.chunk_count)


async def _assemble_when_all_encoded(runtime: Runtime, video_id: str,
                                     job: dict[str, Any] | None, count: int | None) -> None:
    if not job or job.get(F.STATUS) != VideoStatus.IN_PROGRESS:
        return
    total = count or job.get(F.CHUNK_COUNT)  # None: decode is still cutting
    if total and int(job.get(F.CHUNKS_ENCODED) or 0) >= int(total):
        await publish(runtime.bus, VideoAssemble(video_id=video_id, chunk_count=int(total)))


async def handle_assemble(runtime: Runtime, msg: VideoAssemble) -> None:
    store = runtime.store
    video_id = video_oid(msg.video_id)
    video = await load_active_video(runtime, video_id)
    if video is None:
        # Ended already: maybe a delivery that died before asking for the webhook.
        await notify_finished(runtime, "video", video_id)
        return
    records = [r async for r in store.chunks.find(C.chunk_filter(video_id)).sort(C.INDEX, 1)]
    if len(records) != msg.chunk_count or any(not r.get(ENCODED) for r in records):
        raise ProcessingError(f"video {video_id}: not every chunk is encoded yet")
    stem = PurePath(str(video.get(F.ORIGINAL_FILENAME) or "video")).stem or "video"
    with tempfile.TemporaryDirectory(prefix="assemble-") as tmp:
        original = Path(tmp) / "original"
        await download(store, video[F.ORIGINAL_BLOB], original)
        encoded = []
        for record in records:
            path = Path(tmp) / f"encoded-{record[C.INDEX]:05d}.nut"
            await download(store, record[ENCODED], path)
            encoded.append(path)
        final = Path(tmp) / "enhanced.mkv"
        container = await asyncio.to_thread(sniff_container, original)
        info = await asyncio.to_thread(assemble, original, container, encoded, final,
                                       frame_rate=_nominal_rate(video))
        blob_id = await store_file(
            runtime, final, filename=f"{stem}_enhanced.mkv", content_type="video/x-matroska",
            metadata=video_blob(video_id, BlobKind.ENHANCED),
        )
    completed_at = utcnow()
    created_at = video.get(F.CREATED_AT) or completed_at
    moved = await transition(store.videos, video_id, [VideoStatus.IN_PROGRESS],
                             VideoStatus.COMPLETED, {
        F.ENHANCED_BLOB: blob_id,
        F.ENHANCED_WIDTH: info["width"],
        F.ENHANCED_HEIGHT: info["height"],
        F.PROCESSING_TIME_MS: int((completed_at - created_at).total_seconds() * 1000),
        F.COMPLETED_AT: completed_at,
        F.DROPPED_STREAMS: info["dropped"],
    })
    if moved:
        await ended(runtime, "video", video_id, moved=True, status=VideoStatus.COMPLETED,
                    model=str(video.get(F.MODEL_TYPE)), created_at=created_at)
    else:  # a concurrent assembler won, or the job was cancelled or failed meanwhile
        current = await store.videos.find_one({F.ID: video_id}, {F.ENHANCED_BLOB: 1})
        await keep_if_claimed(store, blob_id, (current or {}).get(F.ENHANCED_BLOB))
    await remove_video_temporaries(store, video_id)
