"""The RabbitMQ broker the distributed runs use: where it is, whether it answers, how to
delete a run's namespace; and polling until a condition holds."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import aio_pika

from common.bus import STAGE_QUEUES
from common.bus.topology import delay_queue, topology

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
DELIVERY_LIMIT = 3
# Every logical queue the bus tests use besides the stage ones, so clean-up can find them.
TEST_QUEUES = ("jobs", "other")
# Every delay the tests publish with (``publish_later``, webhook retries), for the same reason.
TEST_DELAYS = (0.2, 0.5, 1.0)


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
        delayed = [delay_queue(namespace, logical, seconds)
                   for logical in (*STAGE_QUEUES, *TEST_QUEUES) for seconds in TEST_DELAYS]
        for queue in (*plan.queues, *delayed):
            await channel.queue_delete(queue.name)  # deleting a missing queue is a no-op
        for exchange in plan.exchanges:
            await channel.exchange_delete(exchange.name)
    finally:
        await connection.close()


async def eventually(condition: Callable[[], bool | Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``condition`` (plain or async) until it holds; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        outcome = condition()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition still false after {within} s")
        await asyncio.sleep(0.02)
