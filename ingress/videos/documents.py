"""The video document (collection ``videos``) and the shapes the API shows of it.

The document's fields are the ones agreed with the pipeline stages (``common.jobs.fields``):
ingress creates it at submit time; decode, upscale and encode move it along. The views are
the manual's "Procesamiento de Videos" objects, timestamps in the manual's form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bson import ObjectId

from common.jobs import fields as F
from common.jobs.status import VideoStatus
from common.jobs.views import (
    VIDEO_SUBMITTED_FIELDS,
    VIDEO_SUMMARY_FIELDS,
    video_detail,
    video_submitted,
    video_summary,
)
from common.store.ids import utcnow

if TYPE_CHECKING:
    from common.media.probe import VideoProbe

# The views live with the job objects the webhooks stage sends too (``common.jobs.views``).
SUBMITTED_FIELDS = VIDEO_SUBMITTED_FIELDS
SUMMARY_FIELDS = VIDEO_SUMMARY_FIELDS
submitted_view = video_submitted
summary_view = video_summary
detail_view = video_detail


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
    skip_similar: float | None = None,
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
        F.SKIP_SIMILAR: skip_similar,
        F.DURATION_SECONDS: probe.duration_seconds,
        F.FPS: probe.fps,
        F.FRAME_RATE: probe.frame_rate,
        F.FRAME_COUNT: probe.frame_count,
        F.ORIGINAL_WIDTH: probe.width,
        F.ORIGINAL_HEIGHT: probe.height,
        F.FRAMES_PROCESSED: 0,
        F.FRAMES_REUSED: 0,
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
