"""The runner's give-up hook: called once, with the reason, when a message is about to be
dead-lettered (a PermanentFailure at once, any other failure on its last delivery), never on
earlier attempts; a failing hook does not keep the message out of the dead-letter queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from common.bus import Delivery, MemoryBus
from common.contracts import ChunkReady, Message
from common.errors import PermanentFailure
from common.heartbeat import WorkerInfo
from common.messaging import publish
from common.runtime import Runtime
from common.settings import Settings
from common.store import Store
from pipeline.runner import Stage, start_stages, stop_stages

OID = "65f0c0ffee0123456789abcd"


def _chunk(index: int) -> ChunkReady:
    return ChunkReady(video_id=OID, chunk_index=index, chunk_count=3, chunk_blob=OID,
                      frame_count=1, scale=2)


@pytest.fixture
async def runtime(store: Store) -> AsyncIterator[Runtime]:
    bus = MemoryBus(delivery_limit=3)
    settings = Settings(_env_file=None, jwt_secret_key="k" * 40)  # type: ignore[call-arg]
    yield Runtime(settings=settings, store=store, bus=bus, jwt_secret="k" * 40, embedded=True)
    await bus.close()


async def test_give_up_hook_runs_once_per_dead_lettered_message(runtime: Runtime) -> None:
    attempts: dict[int, list[int]] = {0: [], 1: [], 2: []}
    gave_up: list[tuple[int, str]] = []

    async def handler(message: Message, delivery: Delivery) -> None:
        assert isinstance(message, ChunkReady)
        attempts[message.chunk_index].append(delivery.attempt)
        if message.chunk_index == 0:
            raise PermanentFailure("never decodable")
        if message.chunk_index == 1:
            raise RuntimeError("disk on fire")
        if delivery.attempt < 2:
            raise RuntimeError("transient")

    async def on_give_up(rt: Runtime, message: Message, reason: str) -> None:
        assert isinstance(message, ChunkReady) and rt is runtime
        gave_up.append((message.chunk_index, reason))
        if message.chunk_index == 1:
            raise RuntimeError("the hook itself fails")

    stage = Stage(name="upscale", build_handlers=lambda _: {"chunk.ready": handler},
                  worker_info=lambda _: WorkerInfo("upscale", "cpu", "test"),
                  on_give_up=on_give_up)
    workers = await start_stages(runtime, [stage])
    try:
        for index in range(3):
            await publish(runtime.bus, _chunk(index))
        for _ in range(500):
            if len(await runtime.bus.dead_letters("upscale")) == 2 and attempts[2] == [1, 2]:
                break
            await asyncio.sleep(0.02)
    finally:
        await stop_stages(workers)
    assert attempts == {0: [1], 1: [1, 2, 3], 2: [1, 2]}
    assert sorted(i for i, _ in gave_up) == [0, 1]
    reasons = dict(gave_up)
    assert reasons[0] == "never decodable"
    assert reasons[1].startswith("disk on fire") and "3 veces" in reasons[1]
    dead = await runtime.bus.dead_letters("upscale")
    assert sorted(d.message_id for d in dead) == sorted(_chunk(i).key() for i in (0, 1))
