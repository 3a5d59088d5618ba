"""Choosing an adapter, and what an unreachable broker looks like (no broker needed)."""

from __future__ import annotations

import pytest

from common.bus import Bus, DatabaseBus, RabbitBus, create_bus
from common.errors import PublishError, ServiceUnavailable
from common.settings import load_settings
from common.store import Store

# Nothing listens on port 1, so the connection is refused at once.
DEAD_URL = "amqp://guest:guest@127.0.0.1:1/"


async def test_create_bus_picks_the_adapter_from_amqp_url(store: Store) -> None:
    durable = create_bus(load_settings(amqp_url="", bus_delivery_limit=4), store.db)
    assert isinstance(durable, DatabaseBus) and durable.delivery_limit == 4
    rabbit = create_bus(load_settings(amqp_url=DEAD_URL, bus_namespace="prod"), store.db)
    assert isinstance(rabbit, RabbitBus) and rabbit.namespace == "prod"
    assert isinstance(durable, Bus) and isinstance(rabbit, Bus)


async def test_unreachable_broker_is_service_unavailable() -> None:
    bus = RabbitBus(DEAD_URL, namespace="test", connect_retry_seconds=1, publish_timeout=1)
    with pytest.raises(ServiceUnavailable):
        await bus.start()
    with pytest.raises(PublishError):
        await bus.publish("jobs", b"x", message_id="m")
    assert not await bus.healthy()
    await bus.close()
