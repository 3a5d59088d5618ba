"""The image document (collection ``images``) and the shapes the API shows of it.

The document's fields are the ones agreed with the upscale worker (``common.jobs.fields``):
ingress creates it at submit time, the worker moves it to ``processing`` and then
``completed`` or ``failed``. The views are the manual's "Procesamiento de Imágenes"
objects, in the manual's field order, timestamps in the manual's form.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from common.jobs import fields as F
from common.jobs.status import ImageStatus
from common.store.ids import utcnow
from ingress.images.checks import CheckedImage
from ingress.images.upload import ImageUpload
from ingress.views import timestamp_or_none

BASE64_FIELDS = ("original_base64", "enhanced_base64")
# The manual's image object, in its order.
FIELDS = (
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
_TIMESTAMPS = ("created_at", "completed_at")


def original_filename(upload: ImageUpload, checked: CheckedImage) -> str:
    """The client's base name, or ``imagen.<format>`` when it gave none."""
    return upload.filename or f"imagen.{checked.format}"


def new_image_document(
    image_id: ObjectId,
    user_id: ObjectId,
    original_blob: str,
    upload: ImageUpload,
    checked: CheckedImage,
) -> dict[str, Any]:
    now = utcnow()
    return {
        F.ID: image_id,
        F.USER_ID: user_id,
        F.ORIGINAL_FILENAME: original_filename(upload, checked),
        F.ORIGINAL_BLOB: original_blob,
        F.ORIGINAL_FORMAT: checked.format,
        F.ORIGINAL_CONTENT_TYPE: checked.content_type,
        F.ORIGINAL_WIDTH: checked.width,
        F.ORIGINAL_HEIGHT: checked.height,
        F.MODEL_TYPE: upload.model_type,
        F.SCALE: upload.scale,
        F.OUTPUT_WIDTH: upload.output_width,
        F.OUTPUT_HEIGHT: upload.output_height,
        F.OUTPUT_FORMAT: upload.output_format,
        F.FACE_ENHANCE: upload.face_enhance,
        F.STATUS: ImageStatus.PENDING,
        F.ENHANCED_BLOB: None,
        F.ENHANCED_WIDTH: None,
        F.ENHANCED_HEIGHT: None,
        F.PROCESSING_TIME_MS: None,
        F.GPU_USED: None,
        F.ERROR_MESSAGE: None,
        F.CREATED_AT: now,
        F.UPDATED_AT: now,
        F.STARTED_AT: None,
        F.COMPLETED_AT: None,
    }


def _value(doc: dict[str, Any], name: str) -> Any:
    if name == "id":
        return str(doc[F.ID])
    value = doc.get(name)
    return timestamp_or_none(value) if name in _TIMESTAMPS else value


def summary_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The list's object: every field of the manual's but the base64 payloads."""
    return {name: _value(doc, name) for name in FIELDS if name not in BASE64_FIELDS}


def detail_view(
    doc: dict[str, Any], base64_fields: tuple[str | None, str | None] | None
) -> dict[str, Any]:
    """The full object; ``base64_fields`` = (original, enhanced), or None to leave them out."""
    if base64_fields is None:
        return summary_view(doc)
    payloads = dict(zip(BASE64_FIELDS, base64_fields, strict=True))
    return {name: payloads[name] if name in payloads else _value(doc, name) for name in FIELDS}
