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
from common.jobs.views import IMAGE_BASE64_FIELDS, IMAGE_FIELDS, image_detail, image_summary
from common.store.ids import utcnow
from ingress.images.checks import CheckedImage
from ingress.images.upload import ImageUpload

# The views live with the job objects the webhooks stage sends too (``common.jobs.views``).
BASE64_FIELDS = IMAGE_BASE64_FIELDS
FIELDS = IMAGE_FIELDS
summary_view = image_summary
detail_view = image_detail


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
