"""What every object the API shows shares: the manual's timestamp form.

Users, images and videos all show ``created_at`` (and the jobs more) as the manual prints
them, ``2024-12-03T10:30:00``: UTC, to the second, no offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def manual_timestamp(value: datetime) -> str:
    """The manual's timestamp form, ``2024-12-03T10:30:00`` (UTC, to the second)."""
    return value.replace(tzinfo=None, microsecond=0).isoformat()


def timestamp_or_none(value: Any) -> str | None:
    """``manual_timestamp`` of a stored date; None for a date not set yet."""
    return manual_timestamp(value) if isinstance(value, datetime) else None
