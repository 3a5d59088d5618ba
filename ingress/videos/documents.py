"""The video document (collection ``videos``) and the shapes the API shows of it.

The document's fields are the ones agreed with the pipeline stages (``common.jobs.fields``):
ingress creates it at submit time; decode, upscale and encode move it along. The views are
the manual's "Procesamiento de Videos" objects, timestamps in the manual's form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from common.jobs import fields as F
from common.jobs.status import VideoStatus
from common.store.ids import utcnow
from ingress.views import timestamp_or_none

if TYPE_CHECKING:
    from common.media.probe import VideoProbe

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
        F.ID: video_id,
        F.USER_ID: user_id,
        F.ORIGINAL_FILENAME: filename,
        F.ORIGINAL_BLOB: original_blob,
        F.STATUS: VideoStatus.PENDING,
        F.MODEL_TYPE: model_type,
        F.SCALE: scale,
        F.FACE_ENHANCE: face_enhance,
        F.DURATION_SECONDS: probe.duration_seconds,
        F.FPS: probe.fps,
        F.FRAME_RATE: probe.frame_rate,
        F.FRAME_COUNT: probe.frame_count,
        F.ORIGINAL_WIDTH: probe.width,
        F.ORIGINAL_HEIGHT: probe.height,
        F.FRAMES_PROCESSED: 0,
        F.ENHANCED_WIDTH: None,
        F.ENHANCED_HEIGHT: None,
        F.ENHANCED_BLOB: None,
        F.PROCESSING_TIME_MS: None,
        F.GPU_USED: None,
        F.ERROR_MESSAGE: None,
        F.CHUNK_COUNT: None,
        F.CREATED_AT: now,
        F.UPDATED_AT: now,
        F.STARTED_AT: None,
        F.COMPLETED_AT: None,
    }


def throughput(doc: dict[str, Any], now: datetime) -> tuple[float | None, float | None]:
    """(frames per second so far, seconds left) of a running job; (None, None) otherwise.

    Derived from ``frames_processed`` and ``started_at`` alone, so the stages write nothing
    extra. The rate counts whole chunks, so it moves in steps; the ETA is None until the
    first chunk has been counted.
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


def _all_fields(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    rate, eta = throughput(doc, now)
    view = {name: doc.get(name) for name in SUMMARY_FIELDS}
    view.update(
        id=str(doc[F.ID]),
        processing_fps=rate,
        eta_seconds=eta,
        created_at=timestamp_or_none(doc.get(F.CREATED_AT)),
        started_at=timestamp_or_none(doc.get(F.STARTED_AT)),
        completed_at=timestamp_or_none(doc.get(F.COMPLETED_AT)),
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
    # Source streams the result could not carry (a codec Matroska refuses or FFmpeg cannot
    # name), as notes such as "subtitle#2 (codec unknown)"; empty otherwise.
    view["dropped_streams"] = list(doc.get(F.DROPPED_STREAMS) or [])
    if base64_fields is not None:
        view["original_base64"], view["enhanced_base64"] = base64_fields
    return view
