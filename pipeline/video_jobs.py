"""What every video stage handler shares: loading the job, cancellation, temp blobs, failure.

Cancellation is "the video document is gone" (``DELETE`` removes it first): a handler that
finds no document, or one in ``error``, acks and drops its message and removes what it stored.
Temporary blobs carry ``{"video_id", "kind", "index"}`` metadata so clean-up (job done, job
failed, job cancelled) is one ``delete_where``. Chunk records (collection ``chunks``, unique
``(video_id, index)``) remember which blob each stage stored for a chunk, so a redelivered
message reuses it instead of storing or counting a second one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from common.contracts import Message
from common.runtime import Runtime
from common.store.ids import parse_object_id
from common.store.jobs import transition

log = logging.getLogger(__name__)

TEMP_KINDS = ("chunk", "upscaled", "encoded")
ACTIVE = ("pending", "in_progress")
READ_SIZE = 1024 * 1024


async def load_active_video(runtime: Runtime, video_id: str) -> dict[str, Any] | None:
    """The job if it is pending or in progress; else None (after cleaning a dead job up)."""
    oid = parse_object_id(video_id)
    video = None if oid is None else await runtime.store.videos.find_one({"_id": oid})
    if video is None or video.get("status") == "error":
        log.info("video %s is cancelled or failed; message dropped", video_id)
        await remove_temporaries(runtime, video_id)
        return None
    if video.get("status") not in ACTIVE:
        return None  # completed: a late duplicate
    return video


async def load_active_chunk(
    runtime: Runtime, video_id: str, index: int
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The active job and its chunk record; None (drop the message) when either is gone."""
    video = await load_active_video(runtime, video_id)
    if video is None:
        return None
    record = await runtime.store.chunks.find_one({"video_id": video_id, "index": index})
    if record is None:
        log.warning("video %s chunk %d has no record; message dropped", video_id, index)
        return None
    return video, record


async def drop_if_cancelled(runtime: Runtime, video_id: str) -> bool:
    """After storing something: if the job was cancelled meanwhile, remove it all; True then."""
    oid = parse_object_id(video_id)
    video = await runtime.store.videos.find_one({"_id": oid}, {"status": 1})
    if video is None or video.get("status") == "error":
        await remove_temporaries(runtime, video_id)
        return True
    return False


async def remove_temporaries(runtime: Runtime, video_id: str) -> None:
    await runtime.store.blobs.delete_where(video_id=video_id, kind=list(TEMP_KINDS))
    await runtime.store.chunks.delete_many({"video_id": video_id})


async def fail_video(runtime: Runtime, video_id: str, reason: str) -> None:
    """Move the job to ``error`` with a readable message and remove its temporary blobs."""
    moved = await transition(runtime.store.videos, video_id, ACTIVE, "error",
                             {"error_message": reason[:1000]})
    if moved:
        log.warning("video %s failed: %s", video_id, reason)
    await remove_temporaries(runtime, video_id)


async def on_give_up(runtime: Runtime, message: Message, reason: str) -> None:
    """The stage runner's hook for a message about to be dead-lettered."""
    video_id = getattr(message, "video_id", None)
    if video_id:
        await fail_video(runtime, video_id, f"Error al procesar el video: {reason}")


async def download(store: Any, blob_id: str, path: Path) -> None:
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


async def claim_chunk_blob(runtime: Runtime, video_id: str, index: int, kind: str, path: Path,
                           info: dict[str, Any]) -> str | None:
    """Store ``path`` as the chunk's ``kind`` blob unless another delivery already did.

    The chunk record's ``<kind>_blob`` is set only where it is still empty (one atomic
    update), so of two racing deliveries one wins and the other deletes its own copy. None when
    the chunk record is gone (job cancelled or finished).
    """
    blob_id = await store_file(runtime, path, filename=f"{video_id}-{kind}-{index:05d}.nut",
                               content_type="video/x-nut",
                               metadata={"video_id": video_id, "kind": kind, "index": index})
    field = f"{kind}_blob"
    result = await runtime.store.chunks.update_one(
        {"video_id": video_id, "index": index, field: None},
        {"$set": {field: blob_id, kind: info}},
    )
    if result.modified_count == 1:
        return blob_id
    await runtime.store.blobs.delete(blob_id)
    record = await runtime.store.chunks.find_one({"video_id": video_id, "index": index})
    return None if record is None else record.get(field)
