"""Fixtures shared by the pipeline's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from common.bus.memory import MemoryBus
from common.runtime import Runtime
from common.settings import Settings
from common.store import Store


@pytest.fixture
async def runtime(store: Store) -> AsyncIterator[Runtime]:
    """A runtime on the test's database and a started in-process bus (3 deliveries)."""
    bus = MemoryBus(delivery_limit=3)
    await bus.start()
    settings = Settings(_env_file=None, jwt_secret_key="k" * 40)  # type: ignore[call-arg]
    yield Runtime(settings=settings, store=store, bus=bus, embedded=True)
    await bus.close()
