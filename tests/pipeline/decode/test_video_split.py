"""The decode stage's handler: chunks stored once per index, ChunkReady carries the job's
options, a redelivered VideoSubmitted stores nothing twice."""

from __future__ import annotations

import asyncio
import os
from fractions import Fraction
from pathlib import Path

import pytest
from bson import ObjectId

from common.bus.memory import MemoryBus
from common.contracts import ChunkReady, VideoSplit, decode
from common.messaging import publish
from common.runtime import Runtime
from common.store import Store
from pipeline.decode.stage import STAGE as DECODE
from pipeline.decode.video_split import handle_video_submitted
from tests.common.bus.support import eventually
from tests.common.media.clips import make_clip
from tests.pipeline.video_support import (
    create_job,
    running_stages,
    temp_blob_count,
    video_settings,
    wait_for_status,
)


async def test_split_is_recorded_and_idempotent(store: Store, tmp_path: Path) -> None:
    source = make_clip(tmp_path / "s.mp4", frames=16, gop=4, subtitles=[(0.1, 0.2, "x")])
    settings = video_settings(tmp_path, video_chunk_seconds=0.12)
    message = await create_job(store, source, scale=3, face_enhance=True)
    bus = MemoryBus(delivery_limit=3)

    def splits() -> list[VideoSplit]:
        return [m for m in (decode(d.body) for d in bus._queue("encode").ready)
                if isinstance(m, VideoSplit)]

    async def split_done() -> bool:
        return len(splits()) >= expected

    async with running_stages(store, settings, [DECODE], bus=bus):
        expected = 1
        await publish(bus, message)
        await eventually(split_done, within=60)
        video = await store.videos.find_one({"_id": ObjectId(message.video_id)})
        assert video is not None
        count = video["chunk_count"]
        assert len(bus._queue("upscale").ready) == count
        # The same message again (a redelivery): same chunks, nothing stored twice.
        await publish(bus, message)
        expected = 2
        await eventually(split_done, within=60)
        assert len(bus._queue("upscale").ready) == 2 * count
    # The count is announced after the chunks (contract v2), which carry none themselves.
    assert [(m.chunk_count, m.frame_count) for m in splits()] == [(count, 16)] * 2
    assert video["status"] == "in_progress" and video["started_at"] is not None
    assert count == 4  # keyframes every 4 frames, 0.12 s chunks
    assert video["streams"]["audio"][0]["codec"] == "aac"
    assert video["streams"]["subtitles"][0]["codec"] == "mov_text"
    assert video["timing"] == {"time_base": "1/30000", "vfr": False, "frame_rate": "30000/1001"}
    assert await temp_blob_count(store, message.video_id) == count
    records = [r async for r in store.chunks.find({"video_id": ObjectId(message.video_id)})
               .sort("index")]
    assert [r["index"] for r in records] == list(range(count))
    # One id form end to end: the chunk records and the blobs' metadata hold the ObjectId.
    assert {type(r["video_id"]) for r in records} == {ObjectId}
    chunk_blob = await store.blobs.info(records[0]["chunk_blob"])
    assert chunk_blob.metadata == {"video_id": ObjectId(message.video_id), "kind": "chunk",
                                   "index": 0}
    assert sum(r["frame_count"] for r in records) == 16
    queued = [decode(m.body) for m in bus._queue("upscale").ready]
    assert all(isinstance(m, ChunkReady) for m in queued)
    chunks = [m for m in queued if isinstance(m, ChunkReady)]
    assert {(m.chunk_index, m.chunk_blob) for m in chunks} == {
        (r["index"], r["chunk_blob"]) for r in records
    }
    assert all(m.face_enhance and m.scale == 3 and m.model_type == "anime_video"
               for m in chunks)
    assert all(m.version == 2 and m.chunk_count is None for m in chunks)


async def test_the_split_cuts_the_tail_finer_by_the_probed_duration(
        store: Store, tmp_path: Path) -> None:
    # 48 frames at 25 fps, a keyframe every 6 (0.24 s chunks): seven chunks of 6, then the
    # last 0.24 s as half of it and the rest (one batch of 2 frames is the smallest piece),
    # so two workers end within a few frames of each other.
    source = make_clip(tmp_path / "t.mp4", frames=48, gop=6, rate=Fraction(25), audio=False,
                       scene_cuts=False)
    settings = video_settings(tmp_path, video_chunk_seconds=0.24, video_batch_frames=2)
    message = await create_job(store, source)
    async with running_stages(store, settings, [DECODE]) as runtime:
        await publish(runtime.bus, message)
        video = await wait_for_status(store, message.video_id, {"in_progress"})

        async def split_done() -> bool:
            doc = await store.videos.find_one({"_id": ObjectId(message.video_id)})
            return bool(doc and doc["chunk_count"])

        await eventually(split_done, within=60)
    records = [r async for r in store.chunks.find({"video_id": ObjectId(message.video_id)})
               .sort("index")]
    assert video["duration_seconds"] == pytest.approx(1.92, abs=0.05)
    assert [r["frame_count"] for r in records] == [6] * 7 + [3, 3]


def sandbox_children() -> list[int]:
    """This process's media sandbox children still running."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        parent = next(line.split()[1] for line in status.splitlines()
                      if line.startswith("PPid:"))
        if int(parent) == os.getpid() and b"common.media.sandbox" in command:
            found.append(int(entry.name))
    return found


async def test_a_job_deleted_mid_split_stops_the_split_child(
        store: Store, tmp_path: Path) -> None:
    # 150 frames of 720p take the child a couple of seconds to cut into six chunks; the job
    # goes after the first. The handler notices at the next chunk and returns, and the child
    # is gone by then (it used to cut on to its time limit, writing into a removed folder).
    source = make_clip(tmp_path / "big.mp4", frames=150, size=(1280, 720), gop=25,
                       rate=Fraction(25), audio=False, scene_cuts=False)
    settings = video_settings(tmp_path, video_chunk_seconds=1.0, video_chunks_in_flight=100)
    message = await create_job(store, source)
    bus = MemoryBus(delivery_limit=3)
    runtime = Runtime(settings=settings, store=store, bus=bus, embedded=True)
    handler = asyncio.ensure_future(handle_video_submitted(runtime, message))
    try:
        async def first_stored() -> bool:
            return await store.chunks.count_documents(
                {"video_id": ObjectId(message.video_id)}) > 0

        await eventually(first_stored, within=60)
        assert sandbox_children(), "the split child should be cutting"
        await store.videos.delete_one({"_id": ObjectId(message.video_id)})
        await asyncio.wait_for(handler, 60)
        assert len(bus._queue("upscale").ready) < 6, "the split was not cut short"
        assert sandbox_children() == []
    finally:
        handler.cancel()
        await bus.close()
