"""The image document (collection ``images``) and the shapes the API shows of it.

The document's fields are the ones agreed with the upscale worker (notes/images-design.md):
ingress creates it at submit time, the worker moves it to ``processing`` and then
``completed`` or ``failed``. The views are the manual's "Procesamiento de Imágenes"
objects, in the manual's field order, timestamps in the manual's form.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

from common.store.ids import utcnow
from ingress.auth.users import manual_timestamp
from ingress.images.checks import CheckedImage
from ingress.images.upload import ImageUpload

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
        "_id": image_id,
        "user_id": user_id,
        "original_filename": original_filename(upload, checked),
        "original_blob": original_blob,
        "original_format": checked.format,
        "original_content_type": checked.content_type,
        "original_width": checked.width,
        "original_height": checked.height,
        "model_type": upload.model_type,
        "scale": upload.scale,
        "output_width": upload.output_width,
        "output_height": upload.output_height,
        "output_format": upload.output_format,
        "face_enhance": upload.face_enhance,
        "status": "pending",
        "enhanced_blob": None,
        "enhanced_width": None,
        "enhanced_height": None,
        "processing_time_ms": None,
        "gpu_used": None,
        "error_message": None,
        "created_at": now,
        "updated_at": now,
        "started_at": None,
        "completed_at": None,
    }


def _value(doc: dict[str, Any], name: str) -> Any:
    if name == "id":
        return str(doc["_id"])
    value = doc.get(name)
    if name in _TIMESTAMPS:
        return manual_timestamp(value) if isinstance(value, datetime) else None
    return value


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
