"""The streaming, fair pipeline across processes on real RabbitMQ (issue 16), one deployment:

* decode publishes each chunk as it is cut: the first chunk is taken by upscale before decode
  has stored the last one (timestamps on the chunk records);
* an image published while a 20-chunk video is being upscaled runs on the image lane, between
  two of the chunk's batches: it is done before the video gets two chunks further;
* a one-chunk video's ``frames_processed`` is seen between 0 and its frame count (per batch);
* fairness: that video, submitted after the long one, is not queued behind all of the long
  one's chunks (at most ``VIDEO_CHUNKS_IN_FLIGHT`` = 2 of them are on the queue at once).

The SIGKILL-mid-batch case is ``tests/test_video_distributed.py``'s killed-worker test: it
kills the worker as soon as progress shows, which with per-batch progress is inside a chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from common.heartbeat import live_workers
from common.store import Store
from tests.common.bus.support import eventually
from tests.common.media.clips import frame_times, make_clip
from tests.distributed import Deployment, distributed_env
from tests.pipeline.upscale.test_image_jobs import ASTRONAUT, create_image
from tests.pipeline.video_support import anime_models, create_job, temp_blob_count
from tests.test_video_distributed import LIMIT, _status, _submit, _until, namespace

__all__ = ["anime_models", "namespace"]  # fixtures, imported so pytest finds them here

pytestmark = pytest.mark.rabbitmq


@asynccontextmanager
async def streaming_deployment(store: Store, mongo_url: str, namespace: str, models: Path,
                               tmp_path: Path) -> AsyncIterator[Deployment]:
    # Keyframes every 4 frames and 0.12 s chunks: a chunk is 4 frames, a batch 2.
    env = distributed_env(
        mongo_url, store.db.name, namespace, tmp_path, BUS_DELIVERY_LIMIT=str(LIMIT),
        MODELS_DIR=str(models), PRECISION="fp32", TILE_SIZE="0", VIDEO_CHUNK_SECONDS="0.12",
        VIDEO_BATCH_FRAMES="2", VIDEO_PRESET="ultrafast", OMP_NUM_THREADS="1",
        VIDEO_CHUNKS_IN_FLIGHT="2",
    )
    deploy = Deployment(env, tmp_path)
    try:
        for name, module in (("decode", "pipeline.decode"), ("encode", "pipeline.encode"),
                             ("upscale", "pipeline.upscale")):
            deploy.start(name, module)

        async def all_up() -> bool:
            stages = {w["stage"] for w in await live_workers(store)}
            return stages >= {"decode", "upscale", "encode"}

        await _until(all_up, 90, "every stage's heartbeat", deploy)
        await asyncio.sleep(1.0)  # heartbeats come just before the consumers
        yield deploy
    finally:
        deploy.stop_all()


class ChunkWatch:
    """Polls a video's chunk records (removed when the job ends) and keeps what it saw."""

    def __init__(self, store: Store, video_id: str) -> None:
        self.store, self.video_id = store, ObjectId(video_id)
        self.records: dict[int, dict[str, Any]] = {}
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            async for record in self.store.chunks.find({"video_id": self.video_id}):
                seen = self.records.setdefault(record["index"], {})
                seen.update({k: v for k, v in record.items() if v is not None})
            await asyncio.sleep(0.03)

    def started(self) -> int:
        """The highest chunk index upscale has taken so far (-1: none)."""
        return max((i for i, r in self.records.items() if "upscale_started_at" in r),
                   default=-1)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_chunks_stream_images_jump_the_queue_and_progress_moves_per_batch(
    store: Store, mongo_url: str, namespace: str, anime_models: Path, tmp_path: Path
) -> None:
    long = await create_job(store, make_clip(tmp_path / "long.mp4", frames=88, gop=4))
    short = await create_job(store, make_clip(tmp_path / "short.mp4", frames=12, gop=12))
    # One chunk for the per-batch check: without a probed duration the split has no tail to
    # cut finer (with it, these 0.4 s would go as 5 + 4 + 3 frames).
    await store.videos.update_one({"_id": ObjectId(short.video_id)},
                                  {"$set": {"duration_seconds": None}})
    image = await create_image(store, ASTRONAUT, model_type="anime_video", scale=2)
    watch = ChunkWatch(store, long.video_id)
    seen_progress: set[int] = set()
    try:
        async with streaming_deployment(store, mongo_url, namespace, anime_models,
                                        tmp_path) as deploy:
            await _submit(namespace, long)

            async def first_taken() -> bool:
                return watch.started() >= 0

            await _until(first_taken, 60, "the first chunk taken by upscale", deploy)
            running = watch.started()
            await _submit(namespace, image, short)
            pictured = await _until(_status_image(store, image.image_id), 60,
                                    "the image", deploy)

            async def short_progress() -> bool:
                doc = await store.videos.find_one({"_id": ObjectId(short.video_id)})
                assert doc is not None
                seen_progress.add(doc["frames_processed"])
                return doc["status"] in {"completed", "error"}

            await eventually(short_progress, within=60)  # polls every 20 ms
            done = await _until(_status(store, long.video_id, {"completed", "error"}), 120,
                                "the long video", deploy)
    finally:
        await watch.stop()
    short_doc = await store.videos.find_one({"_id": ObjectId(short.video_id)})
    assert short_doc is not None and short_doc["status"] == "completed"
    assert done["status"] == "completed", done.get("error_message")
    records = watch.records
    last = done["chunk_count"] - 1
    assert sorted(records) == list(range(last + 1)) and last + 1 >= 20, sorted(records)
    # Streamed: chunk 0 was taken before decode stored the last chunk.
    assert records[0]["upscale_started_at"] < records[last]["created_at"], records
    # The image lane: done before the video got two chunks past where it was.
    assert pictured["status"] == "completed", pictured.get("error_message")
    assert pictured["completed_at"] < records[running + 2]["upscale_started_at"], (
        pictured["completed_at"], running, records)
    # Per batch: the one-chunk video's progress was seen between 0 and its 12 frames.
    assert short_doc["chunk_count"] == 1 and short_doc["frames_processed"] == 12
    assert seen_progress & set(range(1, 12)), seen_progress
    # Fair turns: the short video ends long before the long one, which had 20 chunks to go.
    assert short_doc["completed_at"] < records[running + 6]["upscale_started_at"]
    output = tmp_path / "long.mkv"
    output.write_bytes(await store.blobs.get(done["enhanced_blob"]))
    times = frame_times(output)
    assert done["frames_processed"] == done["frame_count"] == 88 == len(set(times))
    assert await temp_blob_count(store, long.video_id) == 0


def _status_image(store: Store, image_id: str) -> Any:
    async def check() -> Any:
        doc = await store.images.find_one({"_id": ObjectId(image_id)})
        return doc if doc is not None and doc["status"] in {"completed", "failed"} else None

    return check
