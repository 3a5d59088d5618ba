"""The bus contract, run against every adapter (``make_bus``/``bus`` are parametrised)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest

from common.bus import DEATH_REASON_HEADER, Bus, DatabaseBus, Delivery, Handler, MemoryBus
from common.bus.port import QueueDepth
from common.errors import PermanentFailure, PublishError
from tests.common.bus.support import DELIVERY_LIMIT, TEST_DELAYS, MakeBus, eventually

QUEUE = "jobs"


class Recorder:
    """A handler that records every delivery and fails the ones ``fail`` says to."""

    def __init__(self, fail: Callable[[Delivery], BaseException | None] = lambda d: None):
        self.deliveries: list[Delivery] = []
        self._fail = fail

    async def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        error = self._fail(delivery)
        if error is not None:
            raise error

    def ids(self) -> list[str]:
        return [d.message_id for d in self.deliveries]


async def publish_many(bus: Bus, count: int, prefix: str = "m") -> list[str]:
    ids = [f"{prefix}{i}" for i in range(count)]
    for message_id in ids:
        await bus.publish(QUEUE, message_id.encode(), message_id=message_id)
    return ids


async def test_delivers_body_id_headers_on_first_attempt(bus: Bus) -> None:
    recorder = Recorder()
    await bus.publish(QUEUE, b"\x00payload", message_id="job-1", headers={"job": "j1"})
    await bus.consume(QUEUE, recorder)
    await eventually(lambda: len(recorder.deliveries) == 1)
    (delivery,) = recorder.deliveries
    assert delivery == Delivery(
        queue=QUEUE, body=b"\x00payload", message_id="job-1", attempt=1, headers={"job": "j1"}
    )


async def test_failed_delivery_is_redelivered_with_next_attempt(bus: Bus) -> None:
    recorder = Recorder(lambda d: RuntimeError("flaky") if d.attempt == 1 else None)
    await bus.publish(QUEUE, b"x", message_id="flaky")
    await bus.consume(QUEUE, recorder)
    await eventually(lambda: len(recorder.deliveries) == 2)
    await asyncio.sleep(0.3)  # the success is acked: no third delivery
    assert [d.attempt for d in recorder.deliveries] == [1, 2]
    assert await bus.dead_letters(QUEUE) == []


async def test_dead_letters_after_exactly_the_limit(bus: Bus) -> None:
    recorder = Recorder(lambda d: RuntimeError("poison") if d.message_id == "bad" else None)
    await bus.publish(QUEUE, b"bad", message_id="bad", headers={"job": "b"})
    good = await publish_many(bus, 5, prefix="good")
    await bus.consume(QUEUE, recorder)

    async def dead() -> list[Delivery]:
        return await bus.dead_letters(QUEUE)

    async def any_dead() -> bool:
        return bool(await dead())

    await eventually(any_dead, within=15)
    await eventually(lambda: set(good) <= set(recorder.ids()))
    await asyncio.sleep(0.3)  # time for any delivery beyond the limit to show up
    bad = [d for d in recorder.deliveries if d.message_id == "bad"]
    assert [d.attempt for d in bad] == list(range(1, DELIVERY_LIMIT + 1))
    (letter,) = await dead()
    assert (letter.message_id, letter.body, letter.attempt) == ("bad", b"bad", DELIVERY_LIMIT)
    assert letter.headers == {"job": "b", DEATH_REASON_HEADER: "delivery_limit"}
    assert Counter(recorder.ids())["good0"] == 1
    # Peeking leaves it there.
    assert [d.message_id for d in await dead()] == ["bad"]


async def test_permanent_failure_dead_letters_at_once(bus: Bus) -> None:
    recorder = Recorder(lambda d: PermanentFailure("corrupt") if d.message_id == "bad" else None)
    await bus.publish(QUEUE, b"bad", message_id="bad")
    await bus.publish(QUEUE, b"ok", message_id="ok")
    await bus.consume(QUEUE, recorder)
    await eventually(lambda: "ok" in recorder.ids())

    async def any_dead() -> bool:
        return bool(await bus.dead_letters(QUEUE))

    await eventually(any_dead)
    letters = await bus.dead_letters(QUEUE)
    assert [(d.message_id, d.headers[DEATH_REASON_HEADER]) for d in letters] == [
        ("bad", "rejected")
    ]
    assert recorder.ids().count("bad") == 1


async def test_confirmed_publish_is_readable_from_a_fresh_connection(make_bus: MakeBus) -> None:
    publisher = await make_bus()
    await publisher.publish(QUEUE, b"kept", message_id="kept")
    await publisher.close()
    recorder = Recorder()
    await (await make_bus()).consume(QUEUE, recorder)
    await eventually(lambda: recorder.ids() == ["kept"])


async def test_publish_on_a_closed_bus_raises(bus: Bus) -> None:
    await bus.close()
    with pytest.raises(PublishError):
        await bus.publish(QUEUE, b"x", message_id="late")
    assert not await bus.healthy()


async def test_healthy_and_purge(bus: Bus) -> None:
    assert await bus.healthy()
    await publish_many(bus, 3)
    await bus.purge(QUEUE)
    recorder = Recorder()
    await bus.consume(QUEUE, recorder)
    await bus.publish(QUEUE, b"after", message_id="after")
    await eventually(lambda: "after" in recorder.ids())
    assert recorder.ids() == ["after"]


async def test_publish_later_arrives_after_the_delay_in_order(make_bus: MakeBus) -> None:
    publisher, consumer = await make_bus(), await make_bus()
    arrived: dict[str, float] = {}
    loop = asyncio.get_running_loop()

    async def handler(delivery: Delivery) -> None:
        arrived[delivery.message_id] = loop.time()

    await consumer.consume(QUEUE, handler)
    short, long = TEST_DELAYS[0], TEST_DELAYS[2]
    sent = loop.time()
    await publisher.publish_later(QUEUE, b"late", delay=long, message_id="late",
                                  headers={"n": "2"})
    await publisher.publish_later(QUEUE, b"soon", delay=short, message_id="soon")
    await publisher.publish(QUEUE, b"now", message_id="now")
    # The publisher may go away: the broker holds the delayed messages, not the process.
    if not isinstance(publisher, MemoryBus):
        await publisher.close()
    await eventually(lambda: len(arrived) == 3, within=15)
    assert sorted(arrived, key=arrived.__getitem__) == ["now", "soon", "late"]
    assert arrived["soon"] - sent >= short - 0.05
    assert arrived["late"] - sent >= long - 0.05


async def test_a_delayed_message_is_an_ordinary_delivery(bus: Bus) -> None:
    recorder = Recorder(lambda d: RuntimeError("once") if d.attempt == 1 else None)
    await bus.consume(QUEUE, recorder)
    await bus.publish_later(QUEUE, b"x", delay=TEST_DELAYS[0], message_id="d",
                            headers={"job": "j"})
    await eventually(lambda: len(recorder.deliveries) == 2, within=15)
    assert [(d.attempt, d.headers) for d in recorder.deliveries] == [
        (1, {"job": "j"}), (2, {"job": "j"})]


async def test_depths_count_ready_and_dead_messages(bus: Bus) -> None:
    assert await bus.depths(QUEUE) == QueueDepth(ready=0, dead=0)
    await publish_many(bus, 3)
    await bus.publish(QUEUE, b"bad", message_id="bad")

    async def three_ready() -> bool:
        return (await bus.depths(QUEUE)).ready == 4

    await eventually(three_ready)
    done = asyncio.Event()

    async def reject_bad(delivery: Delivery) -> None:
        if delivery.message_id == "bad":
            done.set()
            raise PermanentFailure("bad")

    await bus.consume(QUEUE, reject_bad)
    await asyncio.wait_for(done.wait(), 10)

    async def settled() -> bool:
        return await bus.depths(QUEUE) == QueueDepth(ready=0, dead=1)

    await eventually(settled)


async def test_competing_consumers_share_the_work(make_bus: MakeBus) -> None:
    first, second = await make_bus(), await make_bus()
    seen: dict[str, list[str]] = {"first": [], "second": []}

    def slow(name: str) -> Handler:
        async def handle(delivery: Delivery) -> None:
            await asyncio.sleep(0.02)
            seen[name].append(delivery.message_id)

        return handle

    await first.consume(QUEUE, slow("first"))
    await second.consume(QUEUE, slow("second"))
    ids = await publish_many(first, 30)
    await eventually(lambda: len(seen["first"]) + len(seen["second"]) >= len(ids))
    await asyncio.sleep(0.2)
    assert sorted(seen["first"] + seen["second"]) == sorted(ids)  # each once, none lost
    assert seen["first"] and seen["second"]


async def test_concurrency_runs_handlers_in_parallel(bus: Bus) -> None:
    running = 0
    peak = 0
    all_in = asyncio.Event()

    async def handle(delivery: Delivery) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == 3:
            all_in.set()
        await asyncio.wait_for(all_in.wait(), 5)
        running -= 1

    await publish_many(bus, 3)
    await bus.consume(QUEUE, handle, concurrency=3)
    await asyncio.wait_for(all_in.wait(), 10)
    assert peak == 3


async def test_close_waits_for_a_handler_that_finishes(make_bus: MakeBus) -> None:
    bus = await make_bus(close_timeout=5.0)
    started, done = asyncio.Event(), asyncio.Event()

    async def handle(delivery: Delivery) -> None:
        started.set()
        await asyncio.sleep(0.3)
        done.set()

    await bus.publish(QUEUE, b"x", message_id="finishing")
    await bus.consume(QUEUE, handle)
    await asyncio.wait_for(started.wait(), 10)
    await bus.close()
    assert done.is_set()
    recorder = Recorder()
    await (await make_bus()).consume(QUEUE, recorder)
    await asyncio.sleep(0.5)
    assert recorder.ids() == []  # it was acked before the close


async def test_a_handler_finishing_during_close_still_publishes_and_acks(
    make_bus: MakeBus,
) -> None:
    """A graceful stop (SIGTERM) lets the in-flight handler publish its result and ack: the
    bus closes for publishing only after its consumers are done."""
    bus = await make_bus(close_timeout=5.0)
    started = asyncio.Event()

    async def handle(delivery: Delivery) -> None:
        started.set()
        await asyncio.sleep(0.3)  # close() is called meanwhile
        await bus.publish("other", b"result", message_id="result")

    await bus.publish(QUEUE, b"x", message_id="finishing")
    await bus.consume(QUEUE, handle)
    await asyncio.wait_for(started.wait(), 10)
    await bus.close()
    later = await make_bus()
    results, again = Recorder(), Recorder()
    await later.consume("other", results)
    await later.consume(QUEUE, again)
    await eventually(lambda: results.ids() == ["result"])
    await asyncio.sleep(0.5)
    assert again.ids() == []  # acked, not returned with an attempt spent
    assert await later.dead_letters(QUEUE) == []


async def test_slow_handler_cut_by_close_is_not_lost(make_bus: MakeBus) -> None:
    bus = await make_bus(close_timeout=0.3)
    started = asyncio.Event()

    async def stuck(delivery: Delivery) -> None:
        started.set()
        await asyncio.Event().wait()

    await bus.publish(QUEUE, b"x", message_id="stuck")
    await bus.consume(QUEUE, stuck)
    await asyncio.wait_for(started.wait(), 10)
    await bus.close()
    recorder = Recorder()
    await (await make_bus()).consume(QUEUE, recorder)
    await eventually(lambda: recorder.ids() == ["stuck"])
    # The cut delivery counts on RabbitMQ (3.10 counts a return on channel close) and in
    # memory; the durable bus knows a close is a stop, not a failure, and refunds it.
    assert recorder.deliveries[0].attempt == (1 if isinstance(bus, DatabaseBus) else 2)


async def test_a_notice_reaches_every_listening_process_and_nobody_else(
    make_bus: MakeBus,
) -> None:
    """``announce`` is a broadcast to whoever listens now (each API process), not a queue:
    two listeners each hear it once; a notice with no listener is dropped, never raised."""
    announcer, first, second = await make_bus(), await make_bus(), await make_bus()
    await announcer.announce(b"before anyone listens")
    heard: dict[str, list[bytes]] = {"first": [], "second": []}
    await first.listen(heard["first"].append)
    await second.listen(heard["second"].append)
    await announcer.announce(b"image:1")
    await announcer.announce(b"image:2")
    await eventually(lambda: all(len(got) == 2 for got in heard.values()))
    await asyncio.sleep(0.2)  # nothing else arrives
    assert heard == {"first": [b"image:1", b"image:2"], "second": [b"image:1", b"image:2"]}
