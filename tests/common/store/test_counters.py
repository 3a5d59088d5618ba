"""Windowed allowances: never more than the limit, however many callers race, across clients."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from common.store import Store
from common.store.counters import clear, give_back, reserve
from common.store.ids import utcnow


async def test_racing_reservations_from_two_clients_take_exactly_the_limit(
    store: Store, mongo_url: str
) -> None:
    """Two clients (as two API replicas) and 40 concurrent callers: exactly 7 get a unit."""
    other = await Store.connect(mongo_url, store.db.name, retry_seconds=10)
    try:
        window = timedelta(minutes=5)
        results = await asyncio.gather(*(
            reserve((store if n % 2 else other).rate_limits, "k", 7, window) for n in range(40)
        ))
    finally:
        await other.close()
    taken = [r for r in results if r is None]
    assert len(taken) == 7
    refusals = {r for r in results if r is not None}
    assert len(refusals) == 1  # one window, one reopening time for everyone refused
    (reopens,) = refusals
    assert utcnow() < reopens <= utcnow() + window


async def test_give_back_clear_and_an_expired_window(store: Store) -> None:
    counters, window = store.rate_limits, timedelta(minutes=5)
    assert await reserve(counters, "k", 1, window) is None
    assert await reserve(counters, "k", 1, window) is not None
    await give_back(counters, "k")
    assert await reserve(counters, "k", 1, window) is None
    await clear(counters, "k")
    assert await reserve(counters, "k", 1, window) is None
    # A closed window counts as absent even before the TTL monitor removes it.
    await counters.update_one({"_id": "k"}, {"$set": {"expires_at": utcnow()}})
    assert await reserve(counters, "k", 1, window) is None
