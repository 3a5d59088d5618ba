"""The runner's give-up hook: called with the reason when a message is about to be
dead-lettered (a PermanentFailure at once, any other failure on the handler's last delivery),
never on earlier attempts; a failing hook does not keep the message out of the dead-letter
queue. With a hook, the bus's last delivery is kept back for the give-up, so a worker that
dies holding a message on its last handler attempt still leaves the job failed, not running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from common.bus import MemoryBus
from common.bus.memory import MemoryBroker
from common.contracts import ChunkReady, Message
from common.errors import PermanentFailure
from common.heartbeat import WorkerInfo
from common.messaging import publish
from common.runtime import Runtime
from common.settings import Settings
from common.store import Store
from pipeline.runner import Stage, current_delivery, start_stages, stop_stages

OID = "65f0c0ffee0123456789abcd"


def _chunk(index: int) -> ChunkReady:
    return ChunkReady(video_id=OID, chunk_index=index, chunk_count=3, chunk_blob=OID,
                      frame_count=1, scale=2)


@pytest.fixture
async def runtime(store: Store) -> AsyncIterator[Runtime]:
    bus = MemoryBus(delivery_limit=3)
    settings = Settings(_env_file=None, jwt_secret_key="k" * 40)  # type: ignore[call-arg]
    yield Runtime(settings=settings, store=store, bus=bus, embedded=True)
    await bus.close()


async def test_give_up_hook_runs_for_each_dead_lettered_message(runtime: Runtime) -> None:
    attempts: dict[int, list[int]] = {0: [], 1: [], 2: []}
    gave_up: list[tuple[int, str]] = []

    async def handler(context: Runtime, message: ChunkReady) -> None:
        assert isinstance(message, ChunkReady) and context is runtime
        delivery = current_delivery()
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

    stage = Stage(name="upscale", handlers={ChunkReady: handler},
                  worker_info=lambda _: WorkerInfo("upscale", "cpu", "test"),
                  on_give_up=on_give_up)
    workers = await start_stages(runtime, [stage])
    try:
        for index in range(3):
            await publish(runtime.bus, _chunk(index))
        for _ in range(500):
            if len(await runtime.bus.dead_letters("upscale")) == 2 and len(gave_up) == 3:
                break
            await asyncio.sleep(0.02)
    finally:
        await stop_stages(workers)
    # Limit 3: the handler gets two deliveries; the third is the kept-back give-up delivery.
    assert attempts == {0: [1], 1: [1, 2], 2: [1, 2]}
    assert [i for i, _ in gave_up].count(0) == 1
    reasons = [reason for i, reason in gave_up if i == 1]
    assert dict(gave_up)[0] == "never decodable"
    # The real failure first; the kept-back delivery repeats the give-up (hooks are idempotent).
    assert reasons[0].startswith("disk on fire") and "2 veces" in reasons[0]
    assert reasons[1].startswith("sin terminar tras 2 entregas")
    dead = await runtime.bus.dead_letters("upscale")
    assert sorted(d.message_id for d in dead) == sorted(_chunk(i).key() for i in (0, 1))


async def test_worker_dying_on_the_last_handler_attempt_still_fails_the_job(store: Store) -> None:
    """A consumer that goes away mid-message (its bus closes, as when the process dies) spends
    the attempt; on the handler's last one, the kept-back delivery records the give-up."""
    broker = MemoryBroker()
    settings = Settings(_env_file=None, jwt_secret_key="k" * 40)  # type: ignore[call-arg]
    started = asyncio.Event()
    gave_up: list[str] = []

    async def hang(context: Runtime, message: ChunkReady) -> None:
        started.set()
        await asyncio.Event().wait()  # never finishes: the worker "dies" holding it

    async def on_give_up(rt: Runtime, message: Message, reason: str) -> None:
        gave_up.append(reason)

    stage = Stage(name="upscale", handlers={ChunkReady: hang},
                  worker_info=lambda _: WorkerInfo("upscale", "cpu", "test"),
                  on_give_up=on_give_up)
    first = MemoryBus(delivery_limit=2, broker=broker, close_timeout=0.1)
    runtime = Runtime(settings=settings, store=store, bus=first, embedded=True)
    workers = await start_stages(runtime, [stage])
    await publish(first, _chunk(0))
    await asyncio.wait_for(started.wait(), 5)
    await stop_stages(workers)
    await first.close()  # attempt 1 of 2 spent with the message in hand
    assert gave_up == []

    second = MemoryBus(delivery_limit=2, broker=broker)
    runtime = Runtime(settings=settings, store=store, bus=second, embedded=True)
    workers = await start_stages(runtime, [stage])
    try:
        for _ in range(250):
            if await second.dead_letters("upscale"):
                break
            await asyncio.sleep(0.02)
    finally:
        await stop_stages(workers)
        await second.close()
    assert len(gave_up) == 1 and gave_up[0].startswith("sin terminar tras 1 entregas")
