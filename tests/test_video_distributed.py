"""Video jobs across processes on real RabbitMQ: decode, encode and upscale workers as separate
processes (the real anime_video weights), two upscale workers sharing one queue, an upscale
worker SIGKILLed mid-job, and a poison chunk that ends dead-lettered with its job in error."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from common.bus import RabbitBus
from common.contracts import ChunkReady
from common.messaging import publish
from common.store import Store
from common.store.ids import utcnow
from tests.common.bus.support import AMQP_URL, delete_namespace, rabbitmq_reachable
from tests.common.media.clips import MS, frame_times, make_clip, timing_error
from tests.distributed import Deployment, distributed_env
from tests.pipeline.video_support import anime_models, create_job, temp_blob_count
from tests.services import unavailable

__all__ = ["anime_models"]  # the fixture, imported so pytest finds it here
LIMIT = 3

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    if not await rabbitmq_reachable():
        unavailable("RabbitMQ")
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    await delete_namespace(name)


def chunks_done_by(deploy: Deployment, name: str, video_id: str) -> set[int]:
    pattern = rf"upscale video:{video_id}:chunk:(\d+):ready done"
    return {int(n) for n in re.findall(pattern, deploy.log(name))}


@asynccontextmanager
async def deployment(store: Store, mongo_url: str, namespace: str, models: Path,
                     tmp_path: Path) -> AsyncIterator[Deployment]:
    env = distributed_env(
        mongo_url, store.db.name, namespace, tmp_path, BUS_DELIVERY_LIMIT=str(LIMIT),
        BUS_PREFETCH="1", MODELS_DIR=str(models), PRECISION="fp32", TILE_SIZE="0",
        VIDEO_CHUNK_SECONDS="0.25", VIDEO_BATCH_FRAMES="4", VIDEO_PRESET="ultrafast",
        OMP_NUM_THREADS="1",
    )
    deploy = Deployment(env, tmp_path)
    try:
        yield deploy
    finally:
        deploy.stop_all()


async def _submit(namespace: str, *messages: Any) -> None:
    bus = RabbitBus(AMQP_URL, namespace=namespace, delivery_limit=LIMIT)
    await bus.start()
    try:
        for message in messages:
            await publish(bus, message)
    finally:
        await bus.close()


async def _until(condition: Callable[[], Any], within: float, what: str,
                 deploy: Deployment) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await condition()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            logs = {name: deploy.log(name)[-1500:] for name in deploy.procs}
            raise AssertionError(f"{what} not reached in {within} s; logs: {logs}")
        await asyncio.sleep(0.25)


def _status(store: Store, video_id: str, statuses: set[str]) -> Callable[[], Any]:
    async def check() -> Any:
        doc = await store.videos.find_one({"_id": ObjectId(video_id)})
        return doc if doc is not None and doc["status"] in statuses else None

    return check


async def _dead_letters(namespace: str) -> list[str]:
    bus = RabbitBus(AMQP_URL, namespace=namespace, delivery_limit=LIMIT)
    await bus.start()
    try:
        return [d.message_id for d in await bus.dead_letters("upscale")]
    finally:
        await bus.close()


async def _poison_job(store: Store) -> ChunkReady:
    """An in-progress job whose only chunk blob is not a video."""
    video_id = ObjectId()
    garbage = await store.blobs.put(b"\x00" * 2048, filename="x.nut",
                                    metadata={"video_id": video_id, "kind": "chunk"})
    now = utcnow()
    await store.videos.insert_one({"_id": video_id, "status": "in_progress", "created_at": now,
                                   "updated_at": now, "frames_processed": 0, "frame_count": 4,
                                   "chunk_count": 1, "original_filename": "p.mp4"})
    await store.chunks.insert_one({"video_id": video_id, "index": 0,
                                   "chunk_blob": garbage, "frame_count": 4})
    return ChunkReady(video_id=str(video_id), chunk_index=0, chunk_count=1,
                      chunk_blob=garbage, frame_count=4, model_type="anime_video", scale=2)


async def test_two_upscale_workers_share_a_job_and_a_poison_chunk_is_dead_lettered(
    store: Store, mongo_url: str, namespace: str, anime_models: Path, tmp_path: Path
) -> None:
    source = make_clip(tmp_path / "job.mp4", frames=72, gop=8, size=(96, 64))
    job = await create_job(store, source, scale=2)
    poison = await _poison_job(store)
    async with deployment(store, mongo_url, namespace, anime_models, tmp_path) as deploy:
        for name, module in (("decode", "pipeline.decode"), ("encode", "pipeline.encode"),
                             ("up1", "pipeline.upscale"), ("up2", "pipeline.upscale")):
            deploy.start(name, module)
        await _submit(namespace, poison, job)
        done = await _until(_status(store, job.video_id, {"completed", "error"}), 150,
                            "job completion", deploy)
        failed = await _until(_status(store, poison.video_id, {"error"}), 60,
                              "poison job error", deploy)
        dead = await _until(lambda: _dead_letters(namespace), 30, "dead letter", deploy)
        by_worker = [chunks_done_by(deploy, name, job.video_id) for name in ("up1", "up2")]
    assert done["status"] == "completed", done.get("error_message")
    assert done["chunk_count"] >= 8
    assert done["frames_processed"] == done["frame_count"] == 72
    assert all(by_worker), f"each upscale worker should take chunks: {by_worker}"
    assert by_worker[0] | by_worker[1] == set(range(done["chunk_count"]))
    assert "Error al procesar el video" in failed["error_message"]
    assert dead == [poison.key()]
    assert await temp_blob_count(store, poison.video_id) == 0
    assert await temp_blob_count(store, job.video_id) == 0


async def test_killed_upscale_worker_is_replaced_and_the_job_completes_exactly(
    store: Store, mongo_url: str, namespace: str, anime_models: Path, tmp_path: Path
) -> None:
    source = make_clip(tmp_path / "kill.mp4", frames=40, gop=8, size=(128, 96))
    job = await create_job(store, source, scale=2)

    async def progressed() -> Any:
        doc = await store.videos.find_one({"_id": ObjectId(job.video_id)})
        return doc and 0 < doc["frames_processed"] < doc["frame_count"]

    async with deployment(store, mongo_url, namespace, anime_models, tmp_path) as deploy:
        for name, module in (("decode", "pipeline.decode"), ("encode", "pipeline.encode"),
                             ("up1", "pipeline.upscale")):
            deploy.start(name, module)
        await _submit(namespace, job)
        await _until(progressed, 120, "first chunk upscaled", deploy)
        # Chunks follow each other back to back: right after one is counted, the worker is
        # inside the next one.
        deploy.kill("up1")
        before = await store.videos.find_one({"_id": ObjectId(job.video_id)})
        assert before is not None and before["status"] == "in_progress"
        deploy.start("up2", "pipeline.upscale")
        done = await _until(_status(store, job.video_id, {"completed", "error"}), 150,
                            "job completion after the kill", deploy)
    assert done["status"] == "completed", done.get("error_message")
    assert done["frames_processed"] == done["frame_count"] == 40
    assert chunks_done_by(deploy, "up2", job.video_id), "the replacement worker took over"
    output = tmp_path / "out.mkv"
    output.write_bytes(await store.blobs.get(done["enhanced_blob"]))
    times = frame_times(output)
    assert len(times) == 40 and len(set(times)) == 40
    assert timing_error(source, output) <= MS
