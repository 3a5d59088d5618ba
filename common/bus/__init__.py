"""The message bus: one port, a RabbitMQ adapter and an in-process one.

``create_bus(settings)`` picks RabbitMQ when ``AMQP_URL`` is set, else the in-process bus
(the embedded run, which needs no services but keeps nothing across a restart).
"""

from __future__ import annotations

from common.bus.memory import MemoryBroker, MemoryBus
from common.bus.port import DEATH_REASON_HEADER, Bus, Delivery, Handler, QueueDepth
from common.bus.rabbitmq import RabbitBus
from common.bus.topology import STAGE_QUEUES, Topology, queue_name, topology
from common.settings import Settings


def create_bus(settings: Settings) -> Bus:
    if settings.amqp_url:
        return RabbitBus(
            settings.amqp_url,
            namespace=settings.bus_namespace,
            delivery_limit=settings.bus_delivery_limit,
            prefetch=settings.bus_prefetch,
            connect_retry_seconds=settings.startup_retry_seconds,
            consumer_timeout=settings.bus_consumer_timeout_seconds,
        )
    return MemoryBus(delivery_limit=settings.bus_delivery_limit, namespace=settings.bus_namespace)


__all__ = [
    "DEATH_REASON_HEADER",
    "STAGE_QUEUES",
    "Bus",
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
