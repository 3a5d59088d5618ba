"""Fixtures that give each contract test fresh buses of one adapter.

``make_bus()`` returns a started bus; every bus one test makes shares one broker and one
namespace, like several processes of one deployment. RabbitMQ tests get a unique namespace
and delete its queues and exchanges afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import pytest

from common.bus import STAGE_QUEUES, Bus, MemoryBroker, MemoryBus, RabbitBus
from common.bus.topology import topology
from tests.services import unavailable

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
DELIVERY_LIMIT = 3
# Every logical queue the bus tests use besides the stage ones, so teardown can find them.
TEST_QUEUES = ("jobs", "other")

MakeBus = Callable[..., Awaitable[Bus]]


async def rabbitmq_reachable() -> bool:
    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
    except (OSError, aio_pika.exceptions.AMQPError, TimeoutError):
        return False
    await connection.close()
    return True


async def delete_namespace(namespace: str) -> None:
    connection = await aio_pika.connect(AMQP_URL, timeout=10)
    try:
        channel = await connection.channel()
        plan = topology(namespace, DELIVERY_LIMIT, (*STAGE_QUEUES, *TEST_QUEUES))
        for queue in plan.queues:
            await channel.queue_delete(queue.name)  # deleting a missing queue is a no-op
        for exchange in plan.exchanges:
            await channel.exchange_delete(exchange.name)
    finally:
        await connection.close()


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[MakeBus]:
    namespace = f"test-{uuid.uuid4().hex[:10]}"
    made: list[Bus] = []
    broker = MemoryBroker()
    if request.param == "rabbitmq" and not await rabbitmq_reachable():
        unavailable("RabbitMQ")

    async def make(*, close_timeout: float = 5.0, prefetch: int = 1) -> Bus:
        bus: Bus
        if request.param == "memory":
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


@pytest.fixture
async def bus(make_bus: MakeBus) -> Bus:
    return await make_bus()
