"""What only the RabbitMQ adapter can show: declared arguments, returns, a broker restart
(on a private node: the shared broker is never stopped)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import pytest

from common.bus import Delivery, RabbitBus
from common.bus.topology import queue_name
from common.errors import ConfigError, PublishError
from tests.common.bus.support import (
    AMQP_URL,
    DELIVERY_LIMIT,
    delete_namespace,
    eventually,
    rabbitmq_reachable,
)
from tests.rabbitmq_node import PrivateRabbit, private_rabbitmq
from tests.services import unavailable

pytestmark = pytest.mark.rabbitmq
QUEUE = "jobs"


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    if not await rabbitmq_reachable():
        unavailable("RabbitMQ")
    name = f"test-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        await delete_namespace(name)


def new_bus(
    namespace: str,
    *,
    publish_timeout: float = 30.0,
    delivery_limit: int = DELIVERY_LIMIT,
    url: str = AMQP_URL,
) -> RabbitBus:
    return RabbitBus(
        url,
        namespace=namespace,
        delivery_limit=delivery_limit,
        publish_timeout=publish_timeout,
    )


async def test_stage_queues_are_declared_with_their_arguments(namespace: str) -> None:
    bus = new_bus(namespace)
    await bus.start()
    try:
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            # A redeclaration with other arguments fails: these are exactly what exists.
            await channel.declare_queue(
                queue_name(namespace, "upscale"),
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-dead-letter-exchange": f"{namespace}.dead-letter",
                    "x-dead-letter-routing-key": f"{namespace}.upscale.dead",
                    "x-delivery-limit": DELIVERY_LIMIT - 1,
                },
            )
            await channel.declare_queue(
                f"{namespace}.upscale.dead", durable=True, arguments={"x-queue-type": "classic"}
            )
    finally:
        await bus.close()


async def test_a_changed_delivery_limit_is_a_config_error(namespace: str) -> None:
    first = new_bus(namespace)
    await first.start()
    await first.close()
    with pytest.raises(ConfigError, match="BUS_DELIVERY_LIMIT"):
        await new_bus(namespace, delivery_limit=DELIVERY_LIMIT + 1).start()


async def test_publish_to_a_queue_deleted_behind_its_back_raises(namespace: str) -> None:
    bus = new_bus(namespace, publish_timeout=5.0)
    try:
        await bus.publish(QUEUE, b"x", message_id="first")  # declares the queue
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue_name(namespace, QUEUE))
        with pytest.raises(PublishError, match="unroutable"):
            await bus.publish(QUEUE, b"x", message_id="second")
    finally:
        await bus.close()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateRabbit]:
    """A RabbitMQ node of this test's own: restarting the shared one would break every other
    suite using it at the same time."""
    with private_rabbitmq(tmp_path / "rabbitmq") as node:
        yield node


@pytest.mark.timeout(150)
async def test_broker_restart_loses_no_confirmed_message(private_broker: PrivateRabbit) -> None:
    namespace = "restart"
    publisher = new_bus(namespace, publish_timeout=5.0, url=private_broker.url)
    consumer = new_bus(namespace, url=private_broker.url)
    consumed: set[str] = set()
    confirmed: list[str] = []
    restarted_at: list[int] = []
    refused = 0  # publishes that raised PublishError and were retried
    after_restart = 0  # deliveries the resumed consumer got

    async def handle(delivery: Delivery) -> None:
        nonlocal after_restart
        consumed.add(delivery.message_id)
        after_restart += bool(restarted_at)

    async def publish_stream(count: int) -> None:
        nonlocal refused
        for i in range(count):
            message_id = f"m{i}"
            async with asyncio.timeout(60):
                while True:
                    try:
                        await publisher.publish(QUEUE, b"x", message_id=message_id)
                        break
                    except PublishError:
                        refused += 1
                        await asyncio.sleep(0.5)  # the test's own retry, as a caller's
            confirmed.append(message_id)
            await asyncio.sleep(0.01)  # spread the stream over the restart

    async def restart() -> None:
        await eventually(lambda: len(confirmed) >= 50, within=30)
        await asyncio.to_thread(private_broker.stop_app)
        await asyncio.sleep(1)
        await asyncio.to_thread(private_broker.start_app)
        restarted_at.append(len(confirmed))

    await consumer.consume(QUEUE, handle, concurrency=4)
    try:
        await asyncio.gather(publish_stream(200), restart())
        await eventually(lambda: set(confirmed) <= consumed, within=60)
        assert await publisher.healthy() and await consumer.healthy()
    finally:
        await asyncio.gather(publisher.close(), consumer.close())
    assert len(confirmed) == 200
    assert restarted_at and restarted_at[0] < 200, "the restart did not happen mid-stream"
    assert set(confirmed) <= consumed
    assert after_restart > 0, "the consumer did not resume"
    print(f"restart after {restarted_at[0]} confirms; {refused} publishes refused and retried")
