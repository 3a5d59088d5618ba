"""The decode stage's ``video.submitted`` handler: split the stored original into chunks.

The split (decode + lossless chunk files, :mod:`pipeline.decode.chunking`) runs in a sandbox
child under the decode time and memory limits, because the original is user input. Chunk
blobs and their records are keyed by ``(video_id, index)`` and the split is deterministic, so
a redelivered message finds the chunks it stored before and only republishes ChunkReady.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path, PurePath
from typing import Any

from pymongo.errors import DuplicateKeyError

from common.contracts import ChunkReady, VideoSubmitted
from common.errors import InvalidInput, PermanentFailure
from common.media.sandbox import run_limited
from common.messaging import publish
from common.runtime import Runtime
from common.store.ids import utcnow
from common.store.jobs import transition
from pipeline.video_jobs import download, drop_if_cancelled, load_active_video, store_file

# Decoding plus lossless re-encoding runs well above real time on one core; the limit only
# has to stop a decoder that never finishes.
SECONDS_PER_SOURCE_SECOND = 20.0


async def handle_video_submitted(runtime: Runtime, msg: VideoSubmitted,
                                 message_timeout: float) -> None:
    store = runtime.store
    video = await load_active_video(runtime, msg.video_id)
    if video is None:
        return
    if video["status"] == "pending":
        await transition(store.videos, msg.video_id, ["pending"], "in_progress",
                         {"started_at": utcnow()})
    settings = runtime.settings
    duration = float(video.get("duration_seconds") or settings.max_video_seconds)
    timeout = min(settings.video_probe_timeout_seconds + SECONDS_PER_SOURCE_SECOND * duration,
                  message_timeout * 0.9)
    with tempfile.TemporaryDirectory(prefix="decode-") as tmp:
        suffix = PurePath(str(video.get("original_filename") or "video")).suffix[:10]
        original = Path(tmp) / f"original{suffix}"
        await download(store, msg.original_blob, original)
        try:
            manifest: dict[str, Any] = await asyncio.to_thread(
                run_limited, "pipeline.decode.chunking:split_video",
                {"path": str(original), "out_dir": tmp,
                 "chunk_seconds": settings.video_chunk_seconds},
                timeout=timeout, memory_mb=settings.video_decode_memory_mb,
            )
        except InvalidInput as exc:
            raise PermanentFailure(str(exc)) from exc  # the same file fails the same way
        blobs = [await _store_chunk(runtime, msg.video_id, index, chunk)
                 for index, chunk in enumerate(manifest["chunks"])]
    count = len(blobs)
    await store.videos.update_one(
        {"_id": video["_id"], "status": "in_progress"},
        {"$set": {
            "chunk_count": count,
            "frame_count": manifest["frame_count"],
            "streams": manifest["layout"],
            "timing": manifest["timing"],
            "updated_at": utcnow(),
        }},
    )
    if await drop_if_cancelled(runtime, msg.video_id):
        return
    for index, (blob_id, frames) in enumerate(blobs):
        await publish(runtime.bus, ChunkReady(
            video_id=msg.video_id, chunk_index=index, chunk_count=count, chunk_blob=blob_id,
            frame_count=frames, model_type=msg.model_type, scale=msg.scale,
            face_enhance=msg.face_enhance,
        ))


async def _store_chunk(runtime: Runtime, video_id: str, index: int,
                       chunk: dict[str, Any]) -> tuple[str, int]:
    chunks = runtime.store.chunks
    record = await chunks.find_one({"video_id": video_id, "index": index})
    if record is not None:
        return record["chunk_blob"], int(record["frame_count"])
    blob_id = await store_file(
        runtime, Path(chunk["path"]), filename=f"{video_id}-chunk-{index:05d}.nut",
        content_type="video/x-nut", metadata={"video_id": video_id, "kind": "chunk",
                                              "index": index},
    )
    try:
        await chunks.insert_one({
            "video_id": video_id, "index": index, "chunk_blob": blob_id,
            "frame_count": chunk["frame_count"], "first_pts": chunk["first_pts"],
            "created_at": utcnow(),
        })
    except DuplicateKeyError:  # a concurrent delivery stored it first: keep theirs
        await runtime.store.blobs.delete(blob_id)
        record = await chunks.find_one({"video_id": video_id, "index": index})
        assert record is not None
        return record["chunk_blob"], int(record["frame_count"])
    return blob_id, int(chunk["frame_count"])
