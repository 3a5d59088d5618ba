"""Webhook state in the database: each user's default URL and secret, and one delivery
record per job end (collection ``webhook_deliveries``) with every attempt made.

A record's ``_id`` is the delivery id, ``<kind>:<job id>:<status>``: one per job end however
many messages ask for it, so a duplicate message can never cause a second delivery of an
accepted one. Attempts are claimed with a lease (``claim``) and recorded only by the lease's
holder (``record_attempt``), both single guarded updates, so two workers never run the same
attempt at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from common.contracts import WebhookRequested
from common.jobs import fields as F
from common.store.client import Store
from common.store.ids import utcnow
from common.webhooks.signing import new_secret

# Fields of the users collection.
USER_WEBHOOK_URL = "webhook_url"
USER_WEBHOOK_SECRET = "webhook_secret"

# Fields of a delivery record.
ID = "_id"
# The jobs' names for owner, status and creation time, so the API's paged lists serve these
# records too (``ingress/listing.py``).
USER_ID = F.USER_ID
KIND = "kind"
JOB_ID = "job_id"
EVENT = "event"
URL = "url"
STATUS = F.STATUS
ATTEMPT_COUNT = "attempt_count"
ATTEMPTS = "attempts"
LEASE_OWNER = "lease_owner"
LEASE_UNTIL = "lease_until"
NEXT_ATTEMPT_AT = "next_attempt_at"
# The highest attempt a message was published for: a repeated message knows whether the
# next attempt still needs asking for.
SCHEDULED = "scheduled_attempt"
CREATED_AT = F.CREATED_AT
UPDATED_AT = "updated_at"
DELIVERED_AT = "delivered_at"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # an attempt is due or running
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt of the schedule failed


def delivery_id(message: WebhookRequested) -> str:
    return f"{message.kind}:{message.job_id}:{message.status}"


def event_name(kind: str, status: str) -> str:
    """``video.completed``, ``image.failed``, ``video.error``: the kind and its final status."""
    return f"{kind}.{status}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result, as recorded."""

    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def accepted(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def user_webhook(store: Store, user_id: ObjectId) -> dict[str, Any]:
    """The user's default URL and secret, creating the secret on first use (one guarded
    update, so concurrent first uses agree on one secret)."""
    await store.users.update_one(
        {"_id": user_id, USER_WEBHOOK_SECRET: {"$exists": False}},
        {"$set": {USER_WEBHOOK_SECRET: new_secret()}})
    doc = await store.users.find_one({"_id": user_id},
                                     {USER_WEBHOOK_URL: 1, USER_WEBHOOK_SECRET: 1})
    return doc or {}


async def open_record(store: Store, message: WebhookRequested, user_id: ObjectId,
                      url: str) -> dict[str, Any]:
    """The delivery record of ``message``'s job end, created on the first message."""
    now = utcnow()
    record = await store.webhook_deliveries.find_one_and_update(
        {ID: delivery_id(message)},
        {"$setOnInsert": {
            USER_ID: user_id, KIND: message.kind, JOB_ID: ObjectId(message.job_id),
            EVENT: event_name(message.kind, message.status), URL: url,
            STATUS: DeliveryStatus.PENDING, ATTEMPT_COUNT: 0, ATTEMPTS: [],
            LEASE_OWNER: None, LEASE_UNTIL: None, NEXT_ATTEMPT_AT: now, SCHEDULED: 1,
            CREATED_AT: now, UPDATED_AT: now, DELIVERED_AT: None,
        }},
        upsert=True, return_document=ReturnDocument.AFTER)
    assert record is not None  # an upsert returning the document after always finds one
    return record


async def claim(store: Store, record_id: str, attempt: int,
                lease: timedelta) -> str | None:
    """Take attempt ``attempt`` (the previous ones recorded, no live lease); the lease's
    owner token, or None when the attempt is not this caller's to make."""
    now = utcnow()
    owner = uuid.uuid4().hex
    taken = await store.webhook_deliveries.update_one(
        {ID: record_id, STATUS: DeliveryStatus.PENDING, ATTEMPT_COUNT: attempt - 1,
         NEXT_ATTEMPT_AT: {"$lte": now},
         "$or": [{LEASE_UNTIL: None}, {LEASE_UNTIL: {"$lt": now}}]},
        {"$set": {LEASE_OWNER: owner, LEASE_UNTIL: now + lease, UPDATED_AT: now}})
    return owner if taken.modified_count == 1 else None


async def record_attempt(store: Store, record_id: str, attempt: int, owner: str,
                         outcome: Outcome, next_at: datetime | None) -> bool:
    """Append the attempt, release the lease and settle the status: delivered on a 2xx,
    failed when no attempt is left (``next_at`` None), else pending until ``next_at``.
    False when the lease was lost meanwhile (another worker took the attempt over)."""
    status = (DeliveryStatus.DELIVERED if outcome.accepted
              else DeliveryStatus.PENDING if next_at is not None else DeliveryStatus.FAILED)
    entry = {"attempt": attempt, "at": outcome.at, "status_code": outcome.status_code,
             "error": outcome.error, "duration_ms": outcome.duration_ms}
    fields: dict[str, Any] = {
        STATUS: status, LEASE_OWNER: None, LEASE_UNTIL: None, UPDATED_AT: utcnow(),
        NEXT_ATTEMPT_AT: None if outcome.accepted else next_at,
    }
    if outcome.accepted:
        fields[DELIVERED_AT] = outcome.at
    done = await store.webhook_deliveries.update_one(
        {ID: record_id, ATTEMPT_COUNT: attempt - 1, LEASE_OWNER: owner},
        {"$push": {ATTEMPTS: entry}, "$inc": {ATTEMPT_COUNT: 1}, "$set": fields})
    return done.modified_count == 1


async def mark_scheduled(store: Store, record_id: str, attempt: int) -> None:
    await store.webhook_deliveries.update_one({ID: record_id},
                                              {"$max": {SCHEDULED: attempt}})


def public_delivery(record: Mapping[str, Any], timestamp: Any) -> dict[str, Any]:
    """A record as ``GET /api/webhooks/deliveries`` shows it (``timestamp`` formats dates)."""
    return {
        "id": record[ID],
        "event": record[EVENT],
        "kind": record[KIND],
        "job_id": str(record[JOB_ID]),
        "url": record[URL],
        "status": record[STATUS],
        "attempts": [
            {"attempt": a["attempt"], "at": timestamp(a["at"]), "status_code": a["status_code"],
             "error": a["error"], "duration_ms": a["duration_ms"]}
            for a in record.get(ATTEMPTS, [])
        ],
        "next_attempt_at": timestamp(record.get(NEXT_ATTEMPT_AT)),
        "created_at": timestamp(record.get(CREATED_AT)),
        "delivered_at": timestamp(record.get(DELIVERED_AT)),
    }
