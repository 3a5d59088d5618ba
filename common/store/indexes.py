"""Every index the services rely on, declared in one place and created at start-up.

Only index kinds that MongoDB and SecantusDB both implement (single/compound, unique, TTL;
each checked against SecantusDB in ``tests/common/store/test_client.py``). Names are explicit
so a later change of options fails loudly (IndexOptionsConflict) instead of adding a twin.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

# How long a webhook delivery record (with its attempts) stays listable.
DELIVERY_RECORD_DAYS = 30

INDEXES: dict[str, list[IndexModel]] = {
    "users": [
        IndexModel([("username", ASCENDING)], name="username_unique", unique=True),
        # Emails compare case-insensitively through a lowercased copy rather than a collated
        # index: a collated index serves only queries that pass the same collation, and ICU
        # (MongoDB) and casefold (SecantusDB) disagree on edge cases. See ``email_key``.
        IndexModel([("email_lower", ASCENDING)], name="email_lower_unique", unique=True),
    ],
    "refresh_tokens": [
        IndexModel([("token_hash", ASCENDING)], name="token_hash_unique", unique=True),
        IndexModel([("family_id", ASCENDING)], name="family_id"),
        IndexModel([("user_id", ASCENDING)], name="user_id"),
        # Expired tokens disappear on their own (the TTL monitor runs about once a minute on
        # both servers, so code must still check ``expires_at`` itself).
        IndexModel([("expires_at", ASCENDING)], name="expires_at_ttl", expireAfterSeconds=0),
    ],
    # Revoked access tokens and sessions (``_id`` is "jti:<id>" or "sid:<id>"), kept only until
    # the longest-lived token they could match has expired anyway.
    "revoked_tokens": [
        IndexModel([("expires_at", ASCENDING)], name="expires_at_ttl", expireAfterSeconds=0),
    ],
    # Allowances in a window (common/store/counters.py), ``_id`` the key, e.g.
    # "login:email:<email>", "login:ip:<address>", "submit:<user id>"; shared by every
    # ingress replica, and gone once their window has closed.
    "rate_limits": [
        IndexModel([("expires_at", ASCENDING)], name="expires_at_ttl", expireAfterSeconds=0),
    ],
    "images": [
        IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_created"),
        IndexModel([("user_id", ASCENDING), ("status", ASCENDING)], name="user_status"),
    ],
    "videos": [
        IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_created"),
        IndexModel([("user_id", ASCENDING), ("status", ASCENDING)], name="user_status"),
    ],
    # One record per job end (``_id`` is the delivery id); listed newest first per user and
    # kept for DELIVERY_RECORD_DAYS.
    "webhook_deliveries": [
        IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_created"),
        IndexModel([("created_at", ASCENDING)], name="created_at_ttl",
                   expireAfterSeconds=DELIVERY_RECORD_DAYS * 86400),
    ],
    # A redelivered "chunk stored" message cannot create a second record for the same chunk.
    "chunks": [
        IndexModel(
            [("video_id", ASCENDING), ("index", ASCENDING)], name="video_index_unique", unique=True
        ),
    ],
}


def email_key(email: str) -> str:
    """The value stored in ``users.email_lower`` and used to look a user up by email."""
    return email.strip().lower()


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    for collection, models in INDEXES.items():
        await db[collection].create_indexes(models)
