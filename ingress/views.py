"""What every object the API shows shares: the manual's timestamp form.

Users, images and videos all show ``created_at`` (and the jobs more) as the manual prints
them, ``2024-12-03T10:30:00``: UTC, to the second, no offset. The functions live with the job
objects (``common.jobs.views``), which the webhooks stage shows too.
"""

from __future__ import annotations

from common.jobs.views import manual_timestamp, timestamp_or_none

__all__ = ["manual_timestamp", "timestamp_or_none"]
