"""Allowances in a time window, shared by every process: login attempts, job submissions.

One document per key in ``rate_limits``: ``{_id: key, count, expires_at}``. ``reserve`` takes
one unit with a single guarded update (``count < limit`` is part of the filter), so callers
racing in any number of threads, processes or API replicas can never take more than ``limit``
between them: the check and the count are one step, not a read followed by a write. The
window opens with the first reservation and closes at ``expires_at``; a TTL index removes
closed windows, and since the TTL monitor runs only about once a minute, ``reserve`` also
treats an expired document as absent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from common.store.ids import utcnow

Doc = dict[str, Any]


async def reserve(counters: AsyncCollection[Doc], key: str, limit: int,
                  window: timedelta) -> datetime | None:
    """Take one unit of ``key``'s allowance: None if taken, else when the window reopens."""
    now = utcnow()
    # A window past its end starts over (its document may outlive it until the TTL monitor).
    await counters.delete_one({"_id": key, "expires_at": {"$lte": now}})
    for _ in range(3):
        try:
            await counters.find_one_and_update(
                {"_id": key, "count": {"$lt": limit}},
                {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": now + window}},
                upsert=True, return_document=ReturnDocument.AFTER)
            return None
        except DuplicateKeyError:
            # The filter missed an existing document: either its window is full, or a
            # concurrent first reservation created it just now (then try again, updating it).
            found = await counters.find_one({"_id": key})
            if found is not None and found["count"] >= limit:
                expires: datetime = found["expires_at"]
                return expires
    # Three collisions in a row: only a storm of first reservations; refuse this one briefly.
    return now + timedelta(seconds=1)


async def give_back(counters: AsyncCollection[Doc], key: str) -> None:
    """Return one unit taken by ``reserve`` (an attempt that turned out not to count)."""
    await counters.update_one({"_id": key, "count": {"$gt": 0}}, {"$inc": {"count": -1}})


async def clear(counters: AsyncCollection[Doc], key: str) -> None:
    """Forget ``key``'s window: its whole allowance is available again."""
    await counters.delete_one({"_id": key})
