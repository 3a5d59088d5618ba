"""Shared by the bus tests: where the broker is, how to clean a namespace, polling (from
``bench/_support/bus.py``, which the benches use too)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bench._support.bus import (
    AMQP_URL,
    DELIVERY_LIMIT,
    TEST_DELAYS,
    TEST_QUEUES,
    delete_namespace,
    eventually,
    rabbitmq_reachable,
)
from common.bus import Bus

__all__ = ["AMQP_URL", "DELIVERY_LIMIT", "TEST_DELAYS", "TEST_QUEUES", "MakeBus",
           "delete_namespace", "eventually", "rabbitmq_reachable"]

MakeBus = Callable[..., Awaitable[Bus]]
