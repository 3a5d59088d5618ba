"""Fixtures that give each contract test fresh buses of one adapter.

``make_bus()`` returns a started bus; every bus one test makes shares one broker and one
namespace, like several processes of one deployment. RabbitMQ tests get a unique namespace
and delete its queues and exchanges afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from common.bus import Bus, DatabaseBus, MemoryBroker, MemoryBus, RabbitBus
from common.store import Store
from tests.common.bus.support import (
    AMQP_URL,
    DELIVERY_LIMIT,
    MakeBus,
    delete_namespace,
    rabbitmq_reachable,
)
from tests.conftest import fresh_store
from tests.services import unavailable


@pytest.fixture(params=["memory", "database",
                        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[MakeBus]:
    namespace = f"test-{uuid.uuid4().hex[:10]}"
    made: list[Bus] = []
    broker = MemoryBroker()
    if request.param == "rabbitmq" and not await rabbitmq_reachable():
        unavailable("RabbitMQ")
    resources = AsyncExitStack()
    # The database adapter's: one database for all the buses of a test.
    store: Store | None = None
    if request.param == "database":
        store = await resources.enter_async_context(
            fresh_store(request.getfixturevalue("mongo_url")))

    async def make(*, close_timeout: float = 5.0, prefetch: int = 1) -> Bus:
        bus: Bus
        if store is not None:
            bus = DatabaseBus(store.db, delivery_limit=DELIVERY_LIMIT, namespace=namespace,
                              close_timeout=close_timeout, poll_seconds=0.2)
        elif request.param == "memory":
            bus = MemoryBus(
                delivery_limit=DELIVERY_LIMIT,
                namespace=namespace,
                broker=broker,
                close_timeout=close_timeout,
            )
        else:
            bus = RabbitBus(
                AMQP_URL,
                namespace=namespace,
                delivery_limit=DELIVERY_LIMIT,
                prefetch=prefetch,
                publish_timeout=10.0,
                close_timeout=close_timeout,
            )
        await bus.start()
        made.append(bus)
        return bus

    try:
        yield make
    finally:
        for bus in made:
            await bus.close()
        if request.param == "rabbitmq":
            await delete_namespace(namespace)
        await resources.aclose()


@pytest.fixture
async def bus(make_bus: MakeBus) -> Bus:
    return await make_bus()
