"""The stage runner on a real bus and database: dispatch, retries, dead letters, time limits."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.bus import MemoryBus
from common.contracts import ChunkReady, ImageJobSubmitted, Message, VideoSubmitted
from common.heartbeat import WorkerInfo, live_workers
from common.messaging import publish
from common.runtime import Runtime
from common.settings import Settings
from common.store import Store
from pipeline.cancellation import StopToken, WorkCancelled, run_stoppable
from pipeline.runner import (
    Chore,
    Limits,
    MessageHandler,
    Stage,
    consumer_limits,
    current_delivery,
    start_stages,
    stop_stages,
    stop_token,
)

OID = "65f0c0ffee0123456789abcd"


def _image(n: int = 0) -> ImageJobSubmitted:
    return ImageJobSubmitted(image_id=f"{n:024x}", user_id=OID, original_blob=OID, scale=4)


def _stage(handlers: Mapping[type[Message], MessageHandler], timeout: float = 30.0) -> Stage:
    return Stage(
        name="upscale",
        handlers=handlers,
        worker_info=lambda _: WorkerInfo("upscale", "cpu", "test"),
        message_timeout=timeout,
        lanes=("images",),
    )


async def _wait_for(predicate, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.02)):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_dispatches_parsed_messages_and_announces_the_worker(runtime: Runtime) -> None:
    seen: list[Message] = []

    async def on_image(context: Runtime, message: ImageJobSubmitted) -> None:
        assert context is runtime
        seen.append(message)

    workers = await start_stages(runtime, [_stage({ImageJobSubmitted: on_image})])
    try:
        assert [w["stage"] for w in await live_workers(runtime.store)] == ["upscale"]
        await publish(runtime.bus, _image(1))
        await publish(runtime.bus, _image(2))
        # The previous release published images to the upscale queue itself: still handled.
        await runtime.bus.publish("upscale", _image(3).model_dump_json().encode(),
                                  message_id=_image(3).key())

        async def all_three() -> bool:
            return len(seen) == 3

        await _wait_for(all_three)
        assert {m.key() for m in seen} == {_image(n).key() for n in (1, 2, 3)}
    finally:
        await stop_stages(workers)
    assert await live_workers(runtime.store) == []


async def test_each_class_reaches_its_own_handler_with_the_stage_context(
    runtime: Runtime,
) -> None:
    """Dispatch is by contract class; the context is built once per worker, not per message."""
    built: list[Runtime] = []
    seen: list[tuple[str, object, Message]] = []

    def context(rt: Runtime) -> dict[str, Runtime]:
        built.append(rt)
        return {"runtime": rt}

    async def on_image(ctx: dict[str, Runtime], message: ImageJobSubmitted) -> None:
        seen.append(("image", ctx, message))

    async def on_chunk(ctx: dict[str, Runtime], message: ChunkReady) -> None:
        seen.append(("chunk", ctx, message))

    chunk = ChunkReady(video_id=OID, chunk_index=0, chunk_count=1, chunk_blob=OID,
                       frame_count=1, scale=2)
    stage = Stage(name="upscale", handlers={ImageJobSubmitted: on_image, ChunkReady: on_chunk},
                  context=context, worker_info=lambda _: WorkerInfo("upscale", "cpu", "test"),
                  lanes=("images",))
    workers = await start_stages(runtime, [stage])
    try:
        for message in (_image(1), chunk, _image(2)):
            await publish(runtime.bus, message)

        async def all_three() -> bool:
            return len(seen) == 3

        await _wait_for(all_three)
    finally:
        await stop_stages(workers)
    assert built == [runtime]
    assert all(ctx == {"runtime": runtime} for _, ctx, _ in seen)
    assert sorted((kind, type(m).__name__, m.key()) for kind, _, m in seen) == sorted([
        ("image", "ImageJobSubmitted", _image(1).key()),
        ("image", "ImageJobSubmitted", _image(2).key()),
        ("chunk", "ChunkReady", chunk.key()),
    ])


def test_a_stage_refuses_a_handler_for_another_queues_message() -> None:
    async def handler(ctx: object, message: Message) -> None: ...

    info = lambda _: WorkerInfo("upscale", "cpu", "test")  # noqa: E731
    with pytest.raises(ValueError, match="'decode' queue"):
        Stage(name="upscale", handlers={VideoSubmitted: handler}, worker_info=info)
    with pytest.raises(ValueError, match="'images' queue"):  # a lane must be declared
        Stage(name="upscale", handlers={ImageJobSubmitted: handler}, worker_info=info)
    with pytest.raises(TypeError, match="not a message class"):
        Stage(name="upscale", handlers={"image.submitted": handler},  # type: ignore[dict-item]
              worker_info=info)


async def test_a_message_without_handler_is_dead_lettered_not_dropped(runtime: Runtime) -> None:
    workers = await start_stages(runtime, [_stage({})])
    try:
        await runtime.bus.publish(
            "upscale",
            VideoSubmitted(video_id=OID, user_id=OID, original_blob=OID, scale=2)
            .model_dump_json()
            .encode(),
            message_id="m1",
        )

        async def dead() -> bool:
            return len(await runtime.bus.dead_letters("upscale")) == 1

        await _wait_for(dead)
    finally:
        await stop_stages(workers)


async def test_garbage_is_dead_lettered_at_once(runtime: Runtime) -> None:
    calls = 0

    async def on_image(context: Runtime, message: ImageJobSubmitted) -> None:
        nonlocal calls
        calls += 1

    workers = await start_stages(runtime, [_stage({ImageJobSubmitted: on_image})])
    try:
        await runtime.bus.publish("upscale", b"\x00 not json", message_id="junk")

        async def dead() -> bool:
            letters = await runtime.bus.dead_letters("upscale")
            return [d.attempt for d in letters] == [1]

        await _wait_for(dead)
        assert calls == 0
    finally:
        await stop_stages(workers)


async def test_failures_are_retried_then_dead_lettered(runtime: Runtime) -> None:
    attempts: list[int] = []

    async def flaky(context: Runtime, message: ImageJobSubmitted) -> None:
        attempts.append(current_delivery().attempt)
        raise RuntimeError("GPU fell off the bus")

    workers = await start_stages(runtime, [_stage({ImageJobSubmitted: flaky})])
    try:
        await publish(runtime.bus, _image())

        async def dead() -> bool:
            return len(await runtime.bus.dead_letters("images")) == 1

        await _wait_for(dead)
        assert attempts == [1, 2, 3]
    finally:
        await stop_stages(workers)


async def test_a_hung_handler_is_cut_by_the_message_timeout_and_retried(
    runtime: Runtime,
) -> None:
    attempts: list[int] = []

    async def hangs_once(context: Runtime, message: ImageJobSubmitted) -> None:
        delivery = current_delivery()
        attempts.append(delivery.attempt)
        if delivery.attempt == 1:
            await asyncio.sleep(3600)

    workers = await start_stages(runtime, [_stage({ImageJobSubmitted: hangs_once}, 0.2)])
    try:
        await publish(runtime.bus, _image())

        async def retried() -> bool:
            return attempts == [1, 2]

        await _wait_for(retried)
        assert await runtime.bus.dead_letters("images") == []
    finally:
        await stop_stages(workers)


def _limits(prefetch: int | None, concurrency: int = 1, *, bus_prefetch: int = 2,
            consumer_timeout: float = 1800, message_timeout: float = 1200) -> Limits:
    stage = Stage(name="upscale", handlers={}, worker_info=lambda _: WorkerInfo("u", "c", "t"),
                  concurrency=concurrency, message_timeout=message_timeout, prefetch=prefetch)
    settings = Settings(_env_file=None, bus_prefetch=bus_prefetch,  # type: ignore[call-arg]
                        bus_consumer_timeout_seconds=consumer_timeout)
    return consumer_limits(stage, settings)


def test_time_per_message_keeps_every_prefetched_message_within_the_consumer_timeout() -> None:
    # One slot holding one message: the stage's own limit (20 min < 80 % of 30 min).
    assert _limits(1) == Limits(prefetch=1, message_seconds=1200)
    # BUS_PREFETCH=2 on one slot: the second waits for the first, so each gets 0.8 × 30 / 2.
    assert _limits(None) == Limits(prefetch=2, message_seconds=720)
    # Four slots holding 4 or 5 messages: at most two per slot.
    assert _limits(5, concurrency=4) == Limits(prefetch=5, message_seconds=720)
    # Never fewer unacked messages than handlers; a lowered broker timeout lowers the time.
    assert _limits(1, concurrency=3, consumer_timeout=10) == Limits(prefetch=3,
                                                                  message_seconds=8)


async def test_a_cut_handler_stops_the_work_it_runs_on_a_thread(runtime: Runtime) -> None:
    """The runner's deadline reaches a thread: cancelling the coroutine alone would leave it
    running (the engine thread, busy on a chunk nobody waits for)."""
    steps: list[int] = []
    ended: list[str] = []
    executor = ThreadPoolExecutor(max_workers=1)

    def work(stop: StopToken) -> None:
        try:
            for step in range(10_000):
                stop.check()
                steps.append(step)
                time.sleep(0.01)
        except WorkCancelled as exc:
            ended.append(str(exc))
            raise

    async def slow(context: Runtime, message: ImageJobSubmitted) -> None:
        if current_delivery().attempt == 1:
            token = stop_token()
            await run_stoppable(executor, functools.partial(work, token), token)

    workers = await start_stages(runtime, [_stage({ImageJobSubmitted: slow}, 0.3)])
    try:
        await publish(runtime.bus, _image())

        async def stopped() -> bool:
            return bool(ended)

        await _wait_for(stopped, 5)
        count = len(steps)
        await asyncio.sleep(0.2)
        assert len(steps) == count, "the thread went on after the deadline"
        assert count < 100
    finally:
        await stop_stages(workers)
        executor.shutdown()


async def test_a_message_timing_out_on_its_last_delivery_fails_with_the_reason(
    runtime: Runtime,
) -> None:
    reasons: list[str] = []

    async def hangs(context: Runtime, message: ImageJobSubmitted) -> None:
        await asyncio.sleep(3600)

    async def give_up(rt: Runtime, message: Message, reason: str) -> None:
        reasons.append(reason)

    stage = Stage(name="upscale", handlers={ImageJobSubmitted: hangs}, message_timeout=0.1,
                  worker_info=lambda _: WorkerInfo("upscale", "cpu", "test"),
                  on_give_up=give_up, lanes=("images",))
    workers = await start_stages(runtime, [stage])
    try:
        await publish(runtime.bus, _image())

        async def failed() -> bool:
            return bool(reasons)

        await _wait_for(failed)
    finally:
        await stop_stages(workers)
    assert reasons[0].startswith("superó el tiempo máximo por mensaje (0.1 s)")


async def test_a_stages_chores_run_every_interval_until_it_stops(store: Store) -> None:
    """The decode stage's sweep rides on this: run at start, then every
    SWEEP_INTERVAL_SECONDS; a failing run is logged and retried; stop ends them."""
    bus = MemoryBus(delivery_limit=3)
    settings = Settings(_env_file=None, jwt_secret_key="k" * 40,  # type: ignore[call-arg]
                        sweep_interval_seconds=0.05)
    runtime = Runtime(settings=settings, store=store, bus=bus, embedded=True)
    runs: list[Runtime] = []

    async def chores(rt: Runtime) -> None:
        runs.append(rt)
        if len(runs) == 1:
            raise RuntimeError("database away")

    stage = Stage(name="decode", handlers={}, worker_info=lambda _: WorkerInfo("decode", "c", "t"),
                  chores=(Chore(chores, lambda s: s.sweep_interval_seconds),))
    workers = await start_stages(runtime, [stage])
    try:
        await _wait_for(lambda: asyncio.sleep(0, len(runs) >= 3))
    finally:
        await stop_stages(workers)
        await bus.close()
    stopped_at = len(runs)
    await asyncio.sleep(0.2)
    assert len(runs) == stopped_at and all(rt is runtime for rt in runs)
