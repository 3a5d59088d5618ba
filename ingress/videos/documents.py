"""The video document (collection ``videos``) and the shapes the API shows of it.

The document's fields are the ones agreed with the pipeline stages (notes/video-design.md):
ingress creates it at submit time; decode, upscale and encode move it along. The views are
the manual's "Procesamiento de Videos" objects, timestamps in the manual's form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from common.store.ids import utcnow
from ingress.auth.users import manual_timestamp

if TYPE_CHECKING:
    from common.media.probe import VideoProbe

STATUSES = ("pending", "in_progress", "completed", "error")

# The 202 answer of POST /api/videos/enhance: the manual's fields, then the options used.
SUBMITTED_FIELDS = (
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
    "created_at",
)
# Everything GET shows but the base64 payloads (the list shows exactly this).
SUMMARY_FIELDS = (
    "id",
    "original_filename",
    "status",
    "model_type",
    "scale",
    "face_enhance",
    "duration_seconds",
    "fps",
    "frame_rate",
    "frame_count",
    "frames_processed",
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


def new_video_document(
    video_id: ObjectId,
    user_id: ObjectId,
    filename: str,
    original_blob: str,
    probe: VideoProbe,
    *,
    model_type: str,
    scale: int,
    face_enhance: bool,
) -> dict[str, Any]:
    now = utcnow()
    return {
        "_id": video_id,
        "user_id": user_id,
        "original_filename": filename,
        "original_blob": original_blob,
        "status": "pending",
        "model_type": model_type,
        "scale": scale,
        "face_enhance": face_enhance,
        "duration_seconds": probe.duration_seconds,
        "fps": probe.fps,
        "frame_rate": probe.frame_rate,
        "frame_count": probe.frame_count,
        "original_width": probe.width,
        "original_height": probe.height,
        "frames_processed": 0,
        "enhanced_width": None,
        "enhanced_height": None,
        "enhanced_blob": None,
        "processing_time_ms": None,
        "gpu_used": None,
        "error_message": None,
        "chunk_count": None,
        "created_at": now,
        "updated_at": now,
        "started_at": None,
        "completed_at": None,
    }


def _timestamp(value: Any) -> str | None:
    return manual_timestamp(value) if isinstance(value, datetime) else None


def throughput(doc: dict[str, Any], now: datetime) -> tuple[float | None, float | None]:
    """(frames per second so far, seconds left) of a running job; (None, None) otherwise.

    Derived from ``frames_processed`` and ``started_at`` alone, so the stages write nothing
    extra. The rate counts whole chunks, so it moves in steps; the ETA is None until the
    first chunk has been counted.
    """
    started = doc.get("started_at")
    if doc.get("status") != "in_progress" or not isinstance(started, datetime):
        return None, None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    elapsed = (now - started).total_seconds()
    done = int(doc.get("frames_processed") or 0)
    if elapsed <= 0 or done <= 0:
        return 0.0, None
    rate = done / elapsed
    left = max(0, int(doc.get("frame_count") or 0) - done)
    return round(rate, 2), round(left / rate, 1)


def _all_fields(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    rate, eta = throughput(doc, now)
    view = {name: doc.get(name) for name in SUMMARY_FIELDS}
    view.update(
        id=str(doc["_id"]),
        processing_fps=rate,
        eta_seconds=eta,
        created_at=_timestamp(doc.get("created_at")),
        started_at=_timestamp(doc.get("started_at")),
        completed_at=_timestamp(doc.get("completed_at")),
    )
    return view


def submitted_view(doc: dict[str, Any]) -> dict[str, Any]:
    view = _all_fields(doc, utcnow())
    return {name: view[name] for name in SUBMITTED_FIELDS}


def summary_view(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    return _all_fields(doc, now)


def detail_view(
    doc: dict[str, Any],
    now: datetime,
    base64_fields: tuple[str | None, str | None] | None,
) -> dict[str, Any]:
    """GET's object; ``base64_fields`` = (original, enhanced), or None to leave them out."""
    view = _all_fields(doc, now)
    if base64_fields is not None:
        view["original_base64"], view["enhanced_base64"] = base64_fields
    return view
