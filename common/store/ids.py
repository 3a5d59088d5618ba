"""Identifier and timestamp conventions shared by every collection."""

from __future__ import annotations

from datetime import UTC, datetime

from bson import ObjectId


def parse_object_id(value: object) -> ObjectId | None:
    """The ObjectId in ``value``, or None when it is not one (the API answers 404 then)."""
    if isinstance(value, ObjectId):
        return value
    # Only the 24-hex-digit text form: bson would also take any 12-byte ``bytes``.
    if isinstance(value, str) and len(value) == 24 and ObjectId.is_valid(value):
        return ObjectId(value)
    return None


def utcnow() -> datetime:
    """Now in UTC, cut to the millisecond BSON stores, so a value compares equal after a
    round trip through the database (the client is ``tz_aware`` and returns UTC)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
