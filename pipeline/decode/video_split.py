"""The decode stage's ``video.submitted`` handler: split the stored original into chunks.

The split (decode + lossless chunk files, :mod:`pipeline.decode.chunking`) runs in a sandbox
child under the decode time and memory limits, because the original is user input. It streams:
the child announces each chunk as soon as it is written, and this handler stores it, records it
and publishes its ``chunk.ready`` (contract v2, no count yet) while the child goes on cutting,
then deletes the local file, so upscaling starts within a chunk of the upload and the local
disk holds a chunk or two, whatever the video's length. When the split ends, the job gets its
exact frame and chunk counts and encode gets ``video.split`` (assemble once that many chunks
are encoded). Chunk blobs and their records are keyed by ``(video_id, index)`` and the split
is deterministic, so a redelivered message finds the chunks it stored before and only
republishes their ChunkReady.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path, PurePath
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from common.contracts import VideoSplit, VideoSubmitted
from common.errors import InvalidInput, PermanentFailure
from common.jobs import chunks as C
from common.jobs import fields as F
from common.jobs.blobs import BlobKind
from common.jobs.lifecycle import keep_if_claimed
from common.jobs.status import VideoStatus
from common.media.sandbox import run_limited_async
from common.messaging import publish
from common.runtime import Runtime
from common.store.ids import utcnow
from common.store.jobs import transition
from pipeline.decode.chunking import announcement
from pipeline.runner import DEFAULT_MESSAGE_TIMEOUT, seconds_left
from pipeline.video_jobs import (
    download,
    drop_if_cancelled,
    load_active_video,
    release_chunk,
    store_chunk_file,
    video_oid,
)

# Decoding plus lossless re-encoding runs well above real time on one core; the limit only
# has to stop a decoder that never finishes.
SECONDS_PER_SOURCE_SECOND = 20.0
# The decode stage's per-message limit (``pipeline/decode/stage.py``); the split stays within it.
MESSAGE_TIMEOUT = DEFAULT_MESSAGE_TIMEOUT
# How often the handler looks for newly cut chunks while the child splits (a chunk takes
# far longer than this to cut, so the first one is published within this of being written).
CUT_POLL_SECONDS = 0.05


async def handle_video_submitted(runtime: Runtime, msg: VideoSubmitted) -> None:
    store = runtime.store
    video_id = video_oid(msg.video_id)
    video = await load_active_video(runtime, video_id)
    if video is None:
        return
    if video[F.STATUS] == VideoStatus.PENDING:
        await transition(store.videos, video_id, [VideoStatus.PENDING], VideoStatus.IN_PROGRESS,
                         {F.STARTED_AT: utcnow()})
    settings = runtime.settings
    probed = video.get(F.DURATION_SECONDS)
    duration = float(probed or settings.max_video_seconds)
    # The split ends (with its own, clearer error) before the runner cuts the message: most
    # of the time left, the rest for storing the chunks.
    left = seconds_left() or MESSAGE_TIMEOUT
    timeout = min(settings.video_probe_timeout_seconds + SECONDS_PER_SOURCE_SECOND * duration,
                  left * 0.9)
    with tempfile.TemporaryDirectory(prefix="decode-") as tmp:
        suffix = PurePath(str(video.get(F.ORIGINAL_FILENAME) or "video")).suffix[:10]
        original = Path(tmp) / f"original{suffix}"
        await download(store, msg.original_blob, original)
        out_dir = Path(tmp) / "chunks"
        out_dir.mkdir()
        split = asyncio.ensure_future(run_limited_async(
            "pipeline.decode.chunking:split_video",
            {"path": str(original), "out_dir": str(out_dir),
             "chunk_seconds": settings.video_chunk_seconds,
             "max_frames": settings.video_chunk_max_frames,
             # The tail is cut finer so that workers end together (see chunking).
             "duration": float(probed) if probed else None,
             "min_frames": settings.video_batch_frames},
            time_limit=timeout, memory_mb=settings.video_decode_memory_mb,
        ))
        try:
            published = 0
            while True:
                finished = split.done()  # read first: chunks announced before it are seen
                published = await _publish_cut(runtime, msg, video_id, out_dir, published)
                if published < 0:
                    return  # cancelled meanwhile: the child is stopped below
                if finished:
                    break
                await asyncio.wait({split}, timeout=CUT_POLL_SECONDS)
            manifest: dict[str, Any] = split.result()
        except InvalidInput as exc:
            raise PermanentFailure(str(exc)) from exc  # the same file fails the same way
        finally:
            # Cut or cancelled: the child is killed, and gone before its directory is.
            if not split.done():
                split.cancel()
                await asyncio.wait({split})
            split.add_done_callback(_collect)
    count = len(manifest["chunks"])
    await store.videos.update_one(
        {F.ID: video_id, F.STATUS: VideoStatus.IN_PROGRESS},
        {"$set": {
            F.CHUNK_COUNT: count,
            F.FRAME_COUNT: manifest["frame_count"],
            F.STREAMS: manifest["layout"],
            F.TIMING: manifest["timing"],
            F.UPDATED_AT: utcnow(),
        }},
    )
    if await drop_if_cancelled(runtime, video_id):
        return
    await publish(runtime.bus, VideoSplit(video_id=msg.video_id, chunk_count=count,
                                          frame_count=manifest["frame_count"]))


def _collect(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _announced(out_dir: Path, index: int) -> dict[str, Any] | None:
    """Chunk ``index``'s record once the split has announced it complete, else None."""
    note = announcement(out_dir / f"chunk-{index:05d}.nut")
    return json.loads(note.read_text()) if note.exists() else None


def _discard(chunk: dict[str, Any]) -> None:
    path = Path(chunk["path"])
    path.unlink(missing_ok=True)
    announcement(path).unlink(missing_ok=True)


async def _publish_cut(runtime: Runtime, msg: VideoSubmitted, video_id: ObjectId,
                       out_dir: Path, published: int) -> int:
    """Store every chunk the split announced since ``published`` and publish those whose
    turn it is (``release_chunk``: the others go out as earlier chunks are upscaled); the
    new count of stored chunks, or -1 once the job turns out to be cancelled."""
    while (chunk := await asyncio.to_thread(_announced, out_dir, published)) is not None:
        await _store_chunk(runtime, video_id, published, chunk)
        await asyncio.to_thread(_discard, chunk)  # local disk stays flat
        if await drop_if_cancelled(runtime, video_id):
            return -1
        await release_chunk(runtime, video_id, published, model_type=msg.model_type,
                            scale=msg.scale, face_enhance=msg.face_enhance)
        published += 1
    return published


async def _store_chunk(runtime: Runtime, video_id: ObjectId, index: int,
                       chunk: dict[str, Any]) -> tuple[str, int]:
    chunks = runtime.store.chunks
    source = C.blob_field(BlobKind.CHUNK)
    record = await chunks.find_one(C.chunk_filter(video_id, index))
    if record is not None:
        return record[source], int(record[C.FRAME_COUNT])
    blob_id = await store_chunk_file(runtime, Path(chunk["path"]), video_id, index,
                                     BlobKind.CHUNK)
    try:
        await chunks.insert_one({
            **C.chunk_filter(video_id, index), source: blob_id,
            C.FRAME_COUNT: chunk["frame_count"], C.FIRST_PTS: chunk["first_pts"],
            F.CREATED_AT: utcnow(),
        })
    except DuplicateKeyError:  # a concurrent delivery stored it first: keep theirs
        record = await chunks.find_one(C.chunk_filter(video_id, index))
        assert record is not None
        await keep_if_claimed(runtime.store, blob_id, record[source])
        return record[source], int(record[C.FRAME_COUNT])
    return blob_id, int(chunk["frame_count"])
