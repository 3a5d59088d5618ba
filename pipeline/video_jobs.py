"""What every video stage handler shares: loading the job, cancellation, temp blobs, failure.

Cancellation is "the video document is gone" (``DELETE`` removes it first): a handler that
finds no document, or one in ``error``, acks and drops its message and removes what it stored.
Temporary blobs carry ``{"video_id", "kind", "index"}`` metadata (``common.jobs.blobs``) so
clean-up (job done, job failed, job cancelled) is one call to ``common.jobs.cleanup``. Chunk
records (``common.jobs.chunks``) remember which blob each stage stored for a chunk, so a
redelivered message reuses it instead of storing or counting a second one. Handlers turn the
message's id into an ObjectId once (``video_oid``); everything below takes that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bson import ObjectId

from common.contracts import ChunkReady, Message
from common.jobs import fields as F
from common.jobs.blobs import BlobKind, video_blob
from common.jobs.chunks import blob_field, chunk_filter
from common.jobs.cleanup import remove_video_temporaries
from common.jobs.lifecycle import ended, keep_if_claimed
from common.jobs.status import VIDEO_ACTIVE, VIDEO_ERROR_PREFIX, VideoStatus
from common.media.errors import without_paths
from common.messaging import publish
from common.runtime import Runtime
from common.store.client import Store
from common.store.jobs import transition

log = logging.getLogger(__name__)

READ_SIZE = 1024 * 1024
FAILURE_PREFIX = VIDEO_ERROR_PREFIX


def video_oid(video_id: str) -> ObjectId:
    """The ObjectId of a message's ``video_id`` (the contract guarantees the 24-hex form)."""
    return ObjectId(video_id)


async def load_active_video(runtime: Runtime, video_id: ObjectId) -> dict[str, Any] | None:
    """The job if it is pending or in progress; else None (after cleaning a dead job up)."""
    video = await runtime.store.videos.find_one({F.ID: video_id})
    if video is None or video.get(F.STATUS) == VideoStatus.ERROR:
        log.info("video %s is cancelled or failed; message dropped", video_id)
        await remove_video_temporaries(runtime.store, video_id)
        return None
    if video.get(F.STATUS) not in VIDEO_ACTIVE:
        return None  # completed: a late duplicate
    return video


async def load_active_chunk(
    runtime: Runtime, video_id: ObjectId, index: int
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The active job and its chunk record; None (drop the message) when either is gone."""
    video = await load_active_video(runtime, video_id)
    if video is None:
        return None
    record = await runtime.store.chunks.find_one(chunk_filter(video_id, index))
    if record is None:
        log.warning("video %s chunk %d has no record; message dropped", video_id, index)
        return None
    return video, record


async def drop_if_cancelled(runtime: Runtime, video_id: ObjectId) -> bool:
    """After storing something: if the job was cancelled meanwhile, remove it all; True then."""
    video = await runtime.store.videos.find_one({F.ID: video_id}, {F.STATUS: 1})
    if video is None or video.get(F.STATUS) == VideoStatus.ERROR:
        await remove_video_temporaries(runtime.store, video_id)
        return True
    return False


async def fail_video(runtime: Runtime, video_id: ObjectId, reason: str) -> None:
    """Move the job to ``error`` with a readable message and remove its temporary blobs."""
    moved = await transition(runtime.store.videos, video_id, VIDEO_ACTIVE, VideoStatus.ERROR,
                             {F.ERROR_MESSAGE: without_paths(reason)[:1000]})
    if moved:
        log.warning("video %s failed: %s", video_id, reason)
    doc = await runtime.store.videos.find_one({F.ID: video_id},
                                              {F.MODEL_TYPE: 1, F.CREATED_AT: 1}) or {}
    # Also on a repeat: see common.jobs.lifecycle.
    await ended(runtime, "video", video_id, moved=moved, status=VideoStatus.ERROR,
                model=str(doc.get(F.MODEL_TYPE)), created_at=doc.get(F.CREATED_AT))
    await remove_video_temporaries(runtime.store, video_id)


async def on_give_up(runtime: Runtime, message: Message, reason: str) -> None:
    """The stage runner's hook for a message about to be dead-lettered."""
    video_id = getattr(message, "video_id", None)
    if video_id:
        await fail_video(runtime, video_oid(video_id), FAILURE_PREFIX + reason)


async def download(store: Store, blob_id: str, path: Path) -> None:
    """Stream a blob into a local file (media libraries want a seekable file)."""
    stream = await store.blobs.open_stream(blob_id)
    with path.open("wb") as sink:
        async for piece in stream:
            await asyncio.to_thread(sink.write, piece)


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while piece := await asyncio.to_thread(source.read, READ_SIZE):
            yield piece


async def store_file(runtime: Runtime, path: Path, *, filename: str, content_type: str,
                     metadata: dict[str, Any]) -> str:
    return str(await runtime.store.blobs.put(_read(path), filename=filename,
                                             content_type=content_type, metadata=metadata))


async def store_chunk_file(runtime: Runtime, path: Path, video_id: ObjectId, index: int,
                           kind: BlobKind) -> str:
    """Store one chunk's intermediate file (lossless NUT) as a blob of ``kind``."""
    return await store_file(runtime, path, filename=f"{video_id}-{kind}-{index:05d}.nut",
                            content_type="video/x-nut",
                            metadata=video_blob(video_id, kind, index))


async def claim_chunk_blob(runtime: Runtime, video_id: ObjectId, index: int, kind: BlobKind,
                           path: Path, info: dict[str, Any]) -> str | None:
    """Store ``path`` as the chunk's ``kind`` blob unless another delivery already did.

    The chunk record's ``<kind>_blob`` is set only where it is still empty (one atomic
    update), so of two racing deliveries one wins and the other deletes its own copy. None when
    the chunk record is gone (job cancelled or finished).
    """
    blob_id = await store_chunk_file(runtime, path, video_id, index, kind)
    field = blob_field(kind)
    result = await runtime.store.chunks.update_one(
        {**chunk_filter(video_id, index), field: None},
        {"$set": {field: blob_id, kind: info}},
    )
    if result.modified_count == 1:
        return blob_id
    record = await runtime.store.chunks.find_one(chunk_filter(video_id, index))
    winner = None if record is None else record.get(field)
    await keep_if_claimed(runtime.store, blob_id, winner)
    return winner


async def release_chunk(runtime: Runtime, video_id: ObjectId, index: int, *,
                        model_type: str, scale: int, face_enhance: bool) -> bool:
    """Publish chunk ``index``'s ``chunk.ready`` if its turn has come; True if published.

    At most ``VIDEO_CHUNKS_IN_FLIGHT`` chunks of one video are on the upscale queue or being
    upscaled: chunk ``i`` goes out when it is among the first of them, or once chunk
    ``i - window`` is upscaled. Decode asks when it stores chunk ``i``, upscale when it has
    stored chunk ``i - window``'s result; each writes its own record first and then reads the
    other's, so whichever comes second publishes (both may: a duplicate is harmless).
    So videos take turns on a shared queue instead of the first one's chunks filling it.
    """
    window = runtime.settings.video_chunks_in_flight
    chunks = runtime.store.chunks
    record = await chunks.find_one(chunk_filter(video_id, index))
    if record is None:
        return False  # not cut yet: decode releases it when it stores it
    if index >= window:
        before = await chunks.find_one(chunk_filter(video_id, index - window))
        if before is None or not before.get(blob_field(BlobKind.UPSCALED)):
            return False  # its turn comes when that chunk is upscaled
    await publish(runtime.bus, ChunkReady(
        video_id=str(video_id), chunk_index=index,
        chunk_blob=record[blob_field(BlobKind.CHUNK)], frame_count=record["frame_count"],
        model_type=model_type, scale=scale, face_enhance=face_enhance,
    ))
    return True
