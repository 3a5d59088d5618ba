"""The encode stage's handlers: H.264 per chunk, then the final Matroska file once per job.

``chunk.upscaled``: encode the chunk (once: the chunk record remembers its encoded blob), then
count it once in ``chunks_encoded``; whoever sees the count reach ``chunk_count`` publishes
``video.assemble`` (a duplicate publish is harmless). ``video.assemble``: join the chunks with
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

from common.contracts import ChunkUpscaled, VideoAssemble
from common.errors import ProcessingError
from common.media.containers import sniff_container
from common.messaging import publish
from common.runtime import Runtime
from common.store.ids import utcnow
from common.store.jobs import add_progress_once_returning, transition
from pipeline.encode.assemble import assemble
from pipeline.encode.h264 import encode_chunk
from pipeline.video_jobs import (
    claim_chunk_blob,
    download,
    drop_if_cancelled,
    load_active_chunk,
    load_active_video,
    remove_temporaries,
    store_file,
)

log = logging.getLogger(__name__)


def _nominal_rate(video: dict[str, Any]) -> str | None:
    timing = video.get("timing") or {}
    return None if timing.get("vfr") else timing.get("frame_rate") or video.get("frame_rate")


async def handle_chunk_upscaled(runtime: Runtime, msg: ChunkUpscaled) -> None:
    store = runtime.store
    loaded = await load_active_chunk(runtime, msg.video_id, msg.chunk_index)
    if loaded is None:
        return
    video, record = loaded
    if not record.get("encoded_blob"):
        settings = runtime.settings
        with tempfile.TemporaryDirectory(prefix="encode-") as tmp:
            source, target = Path(tmp) / "upscaled.nut", Path(tmp) / "encoded.nut"
            await download(store, msg.upscaled_blob, source)
            started = time.perf_counter()
            info = await asyncio.to_thread(
                encode_chunk, source, target, crf=settings.video_crf,
                preset=settings.video_preset, frame_rate=_nominal_rate(video),
            )
            log.info("video %s chunk %d: H.264 (%s) of %d frames %dx%d in %.2f s",
                     msg.video_id, msg.chunk_index, settings.video_preset, info["frames"],
                     info["width"], info["height"], time.perf_counter() - started)
            blob_id = await claim_chunk_blob(runtime, msg.video_id, msg.chunk_index, "encoded",
                                             target, info)
        if blob_id is None or await drop_if_cancelled(runtime, msg.video_id):
            return
    after = await add_progress_once_returning(
        store.videos, msg.video_id, key=msg.chunk_index, field="chunks_encoded", amount=1,
        in_states=["in_progress"],
    )
    # Not counted now means counted before: that delivery may have died before publishing.
    job = after or await store.videos.find_one({"_id": video["_id"]})
    if job and job.get("status") == "in_progress" and (
        int(job.get("chunks_encoded") or 0) >= msg.chunk_count
    ):
        await publish(runtime.bus, VideoAssemble(video_id=msg.video_id,
                                                 chunk_count=msg.chunk_count))


async def handle_assemble(runtime: Runtime, msg: VideoAssemble) -> None:
    store = runtime.store
    video = await load_active_video(runtime, msg.video_id)
    if video is None:
        return
    records = [r async for r in store.chunks.find({"video_id": msg.video_id}).sort("index", 1)]
    if len(records) != msg.chunk_count or any(not r.get("encoded_blob") for r in records):
        raise ProcessingError(f"video {msg.video_id}: not every chunk is encoded yet")
    stem = PurePath(str(video.get("original_filename") or "video")).stem or "video"
    with tempfile.TemporaryDirectory(prefix="assemble-") as tmp:
        original = Path(tmp) / "original"
        await download(store, video["original_blob"], original)
        encoded = []
        for record in records:
            path = Path(tmp) / f"encoded-{record['index']:05d}.nut"
            await download(store, record["encoded_blob"], path)
            encoded.append(path)
        final = Path(tmp) / "enhanced.mkv"
        container = await asyncio.to_thread(sniff_container, original)
        info = await asyncio.to_thread(assemble, original, container, encoded, final,
                                       frame_rate=_nominal_rate(video))
        blob_id = await store_file(
            runtime, final, filename=f"{stem}_enhanced.mkv", content_type="video/x-matroska",
            metadata={"video_id": msg.video_id, "kind": "enhanced"},
        )
    completed_at = utcnow()
    created_at = video.get("created_at") or completed_at
    moved = await transition(store.videos, msg.video_id, ["in_progress"], "completed", {
        "enhanced_blob": blob_id,
        "enhanced_width": info["width"],
        "enhanced_height": info["height"],
        "processing_time_ms": int((completed_at - created_at).total_seconds() * 1000),
        "completed_at": completed_at,
        "dropped_streams": info["dropped"],
    })
    if not moved:  # a concurrent assembler won, or the job was cancelled or failed meanwhile
        current = await store.videos.find_one({"_id": video["_id"]}, {"enhanced_blob": 1})
        if current is None or current.get("enhanced_blob") != blob_id:
            await store.blobs.delete(blob_id)
    await remove_temporaries(runtime, msg.video_id)
