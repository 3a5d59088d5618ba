"""The job objects users see: the manual's image and video objects, built from documents.

Shown by the API (``GET``, lists, progress events) and sent by the webhooks stage (the job
object a callback receives), so both sides live here and cannot drift apart. Timestamps are
the manual's form, ``2024-12-03T10:30:00``: UTC, to the second, no offset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from common.jobs import fields as F
from common.jobs.status import VideoStatus
from common.store.ids import utcnow


def manual_timestamp(value: datetime) -> str:
    """The manual's timestamp form, ``2024-12-03T10:30:00`` (UTC, to the second)."""
    return value.replace(tzinfo=None, microsecond=0).isoformat()


def timestamp_or_none(value: Any) -> str | None:
    """``manual_timestamp`` of a stored date; None for a date not set yet."""
    return manual_timestamp(value) if isinstance(value, datetime) else None


# --- images ----------------------------------------------------------------------------------

IMAGE_BASE64_FIELDS = ("original_base64", "enhanced_base64")
# The manual's image object, in its order.
IMAGE_FIELDS = (
    "id",
    "original_filename",
    "original_width",
    "original_height",
    "enhanced_width",
    "enhanced_height",
    "model_type",
    "scale",
    "output_width",
    "output_height",
    "face_enhance",
    "status",
    "processing_time_ms",
    "gpu_used",
    "created_at",
    "completed_at",
    "original_base64",
    "enhanced_base64",
    "error_message",
)
_IMAGE_TIMESTAMPS = ("created_at", "completed_at")


def _image_value(doc: dict[str, Any], name: str) -> Any:
    if name == "id":
        return str(doc[F.ID])
    value = doc.get(name)
    return timestamp_or_none(value) if name in _IMAGE_TIMESTAMPS else value


def image_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The list's object: every field of the manual's but the base64 payloads."""
    return {name: _image_value(doc, name) for name in IMAGE_FIELDS
            if name not in IMAGE_BASE64_FIELDS}


def image_detail(
    doc: dict[str, Any], base64_fields: tuple[str | None, str | None] | None
) -> dict[str, Any]:
    """The full object; ``base64_fields`` = (original, enhanced), or None to leave them out."""
    if base64_fields is None:
        return image_summary(doc)
    payloads = dict(zip(IMAGE_BASE64_FIELDS, base64_fields, strict=True))
    return {name: payloads[name] if name in payloads else _image_value(doc, name)
            for name in IMAGE_FIELDS}


# --- videos ----------------------------------------------------------------------------------

# The 202 answer of POST /api/videos/enhance: the manual's fields, then the options used.
VIDEO_SUBMITTED_FIELDS = (
    "id",
    "original_filename",
    "status",
    "duration_seconds",
    "fps",
    "frame_count",
    "original_width",
    "original_height",
    "frames_processed",
    "model_type",
    "scale",
    "face_enhance",
    "skip_similar",
    "created_at",
)
# Everything GET shows but the base64 payloads (the list shows exactly this).
VIDEO_SUMMARY_FIELDS = (
    "id",
    "original_filename",
    "status",
    "model_type",
    "scale",
    "face_enhance",
    "skip_similar",
    "duration_seconds",
    "fps",
    "frame_rate",
    "frame_count",
    "frames_processed",
    "frames_reused",
    "processing_fps",
    "eta_seconds",
    "original_width",
    "original_height",
    "enhanced_width",
    "enhanced_height",
    "processing_time_ms",
    "gpu_used",
    "error_message",
    "created_at",
    "started_at",
    "completed_at",
)


def throughput(doc: dict[str, Any], now: datetime) -> tuple[float | None, float | None]:
    """(frames per second so far, seconds left) of a running job; (None, None) otherwise.

    Derived from ``frames_processed`` and ``started_at`` alone, so the stages write nothing
    extra. The rate counts whole chunks, so it moves in steps; the ETA is None until the
    first chunk has been counted. It is output frames per second: reused (repeated) frames
    are in ``frames_processed`` like every other frame written.
    """
    started = doc.get(F.STARTED_AT)
    if doc.get(F.STATUS) != VideoStatus.IN_PROGRESS or not isinstance(started, datetime):
        return None, None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    elapsed = (now - started).total_seconds()
    done = int(doc.get(F.FRAMES_PROCESSED) or 0)
    if elapsed <= 0 or done <= 0:
        return 0.0, None
    rate = done / elapsed
    left = max(0, int(doc.get(F.FRAME_COUNT) or 0) - done)
    return round(rate, 2), round(left / rate, 1)


def video_summary(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """GET's object without the base64 payloads (the list's object)."""
    rate, eta = throughput(doc, now)
    view = {name: doc.get(name) for name in VIDEO_SUMMARY_FIELDS}
    view.update(
        id=str(doc[F.ID]),
        # Jobs submitted before repeated frames were counted have no figure: none reused.
        frames_reused=int(doc.get(F.FRAMES_REUSED) or 0),
        processing_fps=rate,
        eta_seconds=eta,
        created_at=timestamp_or_none(doc.get(F.CREATED_AT)),
        started_at=timestamp_or_none(doc.get(F.STARTED_AT)),
        completed_at=timestamp_or_none(doc.get(F.COMPLETED_AT)),
        # Source streams the result could not carry (a codec Matroska refuses or FFmpeg
        # cannot name), as notes such as "subtitle#2 (codec unknown)"; empty otherwise.
        dropped_streams=list(doc.get(F.DROPPED_STREAMS) or []),
    )
    return view


def video_submitted(doc: dict[str, Any]) -> dict[str, Any]:
    view = video_summary(doc, utcnow())
    return {name: view[name] for name in VIDEO_SUBMITTED_FIELDS}


def video_detail(
    doc: dict[str, Any],
    now: datetime,
    base64_fields: tuple[str | None, str | None] | None,
) -> dict[str, Any]:
    """GET's object; ``base64_fields`` = (original, enhanced), or None to leave them out."""
    view = video_summary(doc, now)
    if base64_fields is not None:
        view["original_base64"], view["enhanced_base64"] = base64_fields
    return view


def job_summary(kind: str, doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The object of an image or a video job without base64 payloads (events, webhooks)."""
    return image_summary(doc) if kind == "image" else video_summary(doc, now)
