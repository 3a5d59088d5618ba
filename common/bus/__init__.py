"""The message bus: one port and three adapters.

``create_bus(settings, db)`` picks RabbitMQ when ``AMQP_URL`` is set, else the durable bus
whose queues live in the database ``db`` (the embedded run: no broker needed, and a stop,
crash or upgrade loses no message). The in-process ``MemoryBus`` keeps nothing across a
restart; the unit tests and benches that measure the pipeline without storage use it.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from common.bus.database import DatabaseBus
from common.bus.memory import MemoryBroker, MemoryBus
from common.bus.port import DEATH_REASON_HEADER, Bus, Delivery, Handler, QueueDepth
from common.bus.rabbitmq import RabbitBus
from common.bus.topology import STAGE_QUEUES, Topology, queue_name, topology
from common.settings import Settings


def create_bus(settings: Settings, db: AsyncDatabase[Any]) -> Bus:
    if settings.amqp_url:
        return RabbitBus(
            settings.amqp_url,
            namespace=settings.bus_namespace,
            delivery_limit=settings.bus_delivery_limit,
            prefetch=settings.bus_prefetch,
            connect_retry_seconds=settings.startup_retry_seconds,
            consumer_timeout=settings.bus_consumer_timeout_seconds,
        )
    return DatabaseBus(db, delivery_limit=settings.bus_delivery_limit,
                       namespace=settings.bus_namespace)


__all__ = [
    "DEATH_REASON_HEADER",
    "STAGE_QUEUES",
    "Bus",
    "DatabaseBus",
    "Delivery",
    "Handler",
    "MemoryBroker",
    "MemoryBus",
    "QueueDepth",
    "RabbitBus",
    "Topology",
    "create_bus",
    "queue_name",
    "topology",
]
