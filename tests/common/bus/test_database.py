"""What only the durable bus has: leases, crash recovery, wake-ups, a restart in between.

The contract suite (``test_contract.py``) runs on this adapter too; these tests cover what a
process that dies or stops does to its stored messages, on the real database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from common.bus import DEATH_REASON_HEADER, DatabaseBus, Delivery
from common.bus.stored_queue import StoredQueues
from common.bus.topology import queue_name
from common.store import Store
from tests.common.bus.support import eventually

QUEUE = "jobs"
NAMESPACE = "durable"

MakeDurable = Callable[..., DatabaseBus]


@pytest.fixture
async def make(store: Store) -> AsyncIterator[MakeDurable]:
    made: list[DatabaseBus] = []

    def build(**options: float) -> DatabaseBus:
        bus = DatabaseBus(store.db, delivery_limit=3, namespace=NAMESPACE, **options)
        made.append(bus)
        return bus

    yield build
    for bus in made:
        await bus.close()


async def crashed_holder(store: Store) -> None:
    """What a process killed inside a handler leaves behind: a leased, unacked message."""
    taken = await StoredQueues(store.db, lease_seconds=3600).take(queue_name(NAMESPACE, QUEUE))
    assert taken is not None


async def test_a_crashed_holders_message_returns_when_its_lease_ends(
        make: MakeDurable, store: Store) -> None:
    bus = make(lease_seconds=0.6, poll_seconds=0.1)
    await bus.publish(QUEUE, b"x", message_id="m")
    await StoredQueues(store.db, lease_seconds=0.6).take(queue_name(NAMESPACE, QUEUE))
    got: list[Delivery] = []
    started = time.monotonic()

    async def handler(delivery: Delivery) -> None:
        got.append(delivery)

    await bus.consume(QUEUE, handler)
    await eventually(lambda: len(got) == 1, within=5)
    # Not before the lease ended, and the crash spent a delivery.
    assert time.monotonic() - started >= 0.4
    assert got[0].attempt == 2


async def test_recover_gives_back_a_crashed_holders_message_at_once(
        make: MakeDurable, store: Store) -> None:
    bus = make(poll_seconds=0.1)
    await bus.publish(QUEUE, b"x", message_id="m")
    await crashed_holder(store)  # held for an hour
    assert await bus.recover() == 1
    got: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        got.append(delivery)

    await bus.consume(QUEUE, handler)
    await eventually(lambda: [d.attempt for d in got] == [2], within=3)


async def test_a_message_whose_last_delivery_died_is_dead_lettered(
        make: MakeDurable, store: Store) -> None:
    bus = make(poll_seconds=0.1)
    await bus.publish(QUEUE, b"x", message_id="m", headers={"job": "j"})
    for _ in range(bus.delivery_limit):  # three holders, each killed
        await crashed_holder(store)
        await bus.recover()
    got: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        got.append(delivery)

    await bus.consume(QUEUE, handler)

    async def buried() -> bool:
        return bool(await bus.dead_letters(QUEUE))

    await eventually(buried, within=3)
    (letter,) = await bus.dead_letters(QUEUE)
    assert letter.headers == {"job": "j", DEATH_REASON_HEADER: "delivery_limit"}
    assert letter.attempt == bus.delivery_limit
    assert got == []


async def test_a_publish_wakes_an_idle_consumer_without_polling(make: MakeDurable) -> None:
    bus = make(poll_seconds=30.0)
    arrived: list[float] = []

    async def handler(delivery: Delivery) -> None:
        arrived.append(time.monotonic())

    await bus.consume(QUEUE, handler)
    await asyncio.sleep(0.3)  # the consumer found nothing and went idle for 30 s
    sent = time.monotonic()
    await bus.publish(QUEUE, b"x", message_id="m")
    await eventually(lambda: len(arrived) == 1, within=5)
    assert arrived[0] - sent < 1.0


async def test_a_running_handler_keeps_its_lease(make: MakeDurable) -> None:
    first, second = make(lease_seconds=0.6, poll_seconds=0.1), make(lease_seconds=0.6,
                                                                   poll_seconds=0.1)
    seen: list[str] = []

    async def slow(delivery: Delivery) -> None:
        seen.append(delivery.message_id)
        await asyncio.sleep(2.0)  # more than three leases

    await first.publish(QUEUE, b"x", message_id="long")
    await first.consume(QUEUE, slow)
    await second.consume(QUEUE, slow)
    await eventually(lambda: seen == ["long"])
    await asyncio.sleep(2.5)
    assert seen == ["long"]  # never handed to the other consumer
    assert (await first.depths(QUEUE)).ready == 0


async def test_a_closed_bus_hears_no_more_notices(make: MakeDurable) -> None:
    """Listeners live in a registry of the process (the API and the stages share it), so a
    closed bus must take its own out: a later notice reaches only the buses still open."""
    closed, open_one, announcer = make(), make(), make()
    heard: dict[str, list[bytes]] = {"closed": [], "open": []}
    await closed.listen(heard["closed"].append)
    await open_one.listen(heard["open"].append)
    await closed.close()
    await announcer.announce(b"finished:image:1")
    assert heard == {"closed": [], "open": [b"finished:image:1"]}


async def test_a_delayed_message_outlives_its_publisher(
        make: MakeDurable, store: Store, mongo_url: str) -> None:
    """A webhook retry scheduled before a restart is delivered after it: the next process,
    on its own connection, gets it when it is due."""
    await make().publish_later(QUEUE, b"retry", delay=0.8, message_id="retry")
    later = await Store.connect(mongo_url, store.db.name, retry_seconds=10)
    try:
        bus = DatabaseBus(later.db, delivery_limit=3, namespace=NAMESPACE, poll_seconds=5.0)
        got: list[float] = []
        started = time.monotonic()

        async def handler(delivery: Delivery) -> None:
            got.append(time.monotonic() - started)

        await bus.consume(QUEUE, handler)
        await eventually(lambda: len(got) == 1, within=5)
        # Due in 0.8 s: the idle consumer slept until then, not for its 5 s poll.
        assert 0.5 <= got[0] < 2.0
        await bus.close()
    finally:
        await later.close()
