"""The durable bus's storage: every queue of a deployment in one database collection.

One document per message (collection ``bus_messages``)::

    {_id: ObjectId (publish order), queue: "<ns>.<logical>", body, message_id, headers,
     state: "ready" | "dead", deliveries: int, visible_at: datetime, returned: bool,
     lease: str | None, reason: str (dead only), dead_at: datetime (dead only)}

A ready message whose ``visible_at`` has passed and that holds no live lease is takeable.
Taking it counts a delivery, marks it ``returned`` (should its holder vanish, it is served
before new messages, as RabbitMQ and the memory bus serve returned ones) and pushes
``visible_at`` one lease ahead with a fresh lease token: the lease *is* ``visible_at``, so a
holder that dies (SIGKILL, power cut) makes the message takeable again when its lease ends,
with no reaper. A running handler keeps pushing it ahead (``extend``); ack deletes the
document, give-back sets ``visible_at`` to now. Every write names the lease token, so a
holder whose lease ran out and was taken over cannot ack or return someone else's delivery.

Delayed publishing is the same document with ``visible_at`` in the future, so it survives
the process. Writes are journaled: a publish returns once the message is on disk.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING, ReturnDocument, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase

from common.bus.port import JOB_HEADER
from common.store.ids import utcnow

COLLECTION = "bus_messages"
READY, DEAD = "ready", "dead"


@dataclass(frozen=True, slots=True)
class Taken:
    """One delivery's hold on a message."""

    id: Any
    body: bytes
    message_id: str
    headers: dict[str, str]
    deliveries: int
    lease: str


class StoredQueues:
    """The collection operations behind :class:`common.bus.database.DatabaseBus`."""

    def __init__(self, db: AsyncDatabase[Any], *, lease_seconds: float) -> None:
        self.messages = db.get_collection(COLLECTION,
                                          write_concern=WriteConcern(w=1, j=True))
        self.lease = timedelta(seconds=lease_seconds)

    async def ensure_indexes(self) -> None:
        await self.messages.create_index(
            [("queue", ASCENDING), ("state", ASCENDING), ("visible_at", ASCENDING)])

    async def put(self, queue: str, body: bytes, message_id: str, headers: dict[str, str],
                  *, delay: float = 0.0) -> None:
        await self.messages.insert_one({
            "queue": queue, "body": Binary(body), "message_id": message_id,
            "headers": headers, "state": READY, "deliveries": 0,
            "visible_at": utcnow() + timedelta(seconds=delay), "returned": False,
            "lease": None,
        })

    async def take(self, queue: str) -> Taken | None:
        """Lease the next takeable message (returned ones first, then publish order)."""
        now, lease = utcnow(), uuid.uuid4().hex
        doc = await self.messages.find_one_and_update(
            {"queue": queue, "state": READY, "visible_at": {"$lte": now}},
            {"$set": {"visible_at": now + self.lease, "lease": lease, "returned": True},
             "$inc": {"deliveries": 1}},
            sort=[("returned", DESCENDING), ("_id", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        return Taken(doc["_id"], bytes(doc["body"]), doc["message_id"],
                     dict(doc.get("headers") or {}), doc["deliveries"], lease)

    async def extend(self, taken: Taken) -> bool:
        """Keep the lease alive; False when it was lost (taken over after it ran out)."""
        result = await self.messages.update_one(
            {"_id": taken.id, "lease": taken.lease},
            {"$set": {"visible_at": utcnow() + self.lease}})
        return result.matched_count == 1

    async def ack(self, taken: Taken) -> bool:
        return (await self.messages.delete_one(
            {"_id": taken.id, "lease": taken.lease})).deleted_count == 1

    async def give_back(self, taken: Taken, *, counted: bool) -> None:
        """Make it takeable now; ``counted=False`` refunds the delivery (a graceful stop
        is not a failed attempt)."""
        update: dict[str, Any] = {"$set": {"visible_at": utcnow(), "lease": None}}
        if not counted:
            update["$inc"] = {"deliveries": -1}
        await self.messages.update_one({"_id": taken.id, "lease": taken.lease}, update)

    async def bury(self, taken: Taken, reason: str) -> None:
        await self.messages.update_one(
            {"_id": taken.id, "lease": taken.lease},
            {"$set": {"state": DEAD, "reason": reason, "dead_at": utcnow(), "lease": None}})

    async def release_all_leases(self) -> int:
        """Every leased message takeable now, its delivery spent: for a process that knows
        it is the only consumer of this database (the embedded run after a crash)."""
        result = await self.messages.update_many(
            {"state": READY, "lease": {"$ne": None}},
            {"$set": {"visible_at": utcnow(), "lease": None}})
        return result.modified_count

    async def next_visible(self, queue: str) -> datetime | None:
        """When the earliest not-yet-takeable message of ``queue`` becomes takeable."""
        doc = await self.messages.find_one(
            {"queue": queue, "state": READY, "visible_at": {"$gt": utcnow()}},
            {"visible_at": 1}, sort=[("visible_at", ASCENDING)])
        return None if doc is None else doc["visible_at"]

    async def dead(self, queue: str, limit: int) -> list[dict[str, Any]]:
        found = self.messages.find({"queue": queue, "state": DEAD},
                                   sort=[("dead_at", ASCENDING), ("_id", ASCENDING)],
                                   limit=limit)
        return [doc async for doc in found]

    async def purge(self, queue: str) -> None:
        await self.messages.delete_many(
            {"queue": queue, "$or": [{"state": DEAD}, {"state": READY, "lease": None}]})

    async def depths(self, queue: str) -> tuple[int, int]:
        ready = await self.messages.count_documents(
            {"queue": queue, "state": READY, "lease": None, "visible_at": {"$lte": utcnow()}})
        dead = await self.messages.count_documents({"queue": queue, "state": DEAD})
        return ready, dead

    async def holding(self, queues: list[str], job_ids: list[str]) -> set[str]:
        """Which of ``job_ids`` have a live (ready, delayed or leased) message in ``queues``,
        by the ``job`` header the publisher sets."""
        header = f"headers.{JOB_HEADER}"
        found = await self.messages.distinct(header, {
            "queue": {"$in": queues}, "state": READY, header: {"$in": job_ids}})
        return {str(job) for job in found}
