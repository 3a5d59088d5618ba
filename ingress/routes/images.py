"""The manual's "Procesamiento de Imágenes" endpoints, plus downloads for real-size files.

``POST /api/images/enhance`` checks and stores the image, publishes it to the upscale queue
and waits for the worker up to ``IMAGE_WAIT_SECONDS``: 201 with the result, 500 with the
worker's error (503 when the model's weights could not be had), or 202 with the image as it
stands (the client then polls ``GET /api/images/{id}``). Every object route answers the same
404 for a missing, malformed or someone else's id (``load_owned``).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter, Request
from fastapi import status as http_status
from fastapi.responses import Response

from common.contracts import OUTPUT_MEDIA
from common.errors import Conflict, ModelUnavailable, NotFound, ProcessingError
from common.jobs import fields as F
from common.jobs.status import IMAGE_ERROR_PREFIX, ImageStatus
from common.model_status import MODEL_UNAVAILABLE, RETRY_SECONDS
from common.models import DEFAULT_MODEL, MODEL_IDS
from common.runtime import Runtime
from common.sizing import FORMAT_MAX_SIDE, MAX_SCALE, MIN_SCALE
from ingress.auth.current import AuthUser, CurrentUser
from ingress.availability import require_models
from ingress.deps import RuntimeDep
from ingress.downloads import large_json, stream_blob
from ingress.images.checks import check_image
from ingress.images.documents import detail_view, summary_view
from ingress.images.jobs import NOT_FOUND, delete_image, full_view, submit_image, wait_for_image
from ingress.images.upload import MAX_DIMENSION, read_upload
from ingress.listing import Page, PerPage, owned_page
from ingress.openapi import schemas as S
from ingress.openapi.responses import QUOTA_EXAMPLE, answers, binary
from ingress.ownership import load_owned
from ingress.uploads import CALLBACK_URL_FIELD, enhance_body

router = APIRouter(prefix="/api/images", tags=["images"])

COMPLETED = "Imagen procesada exitosamente"
ACCEPTED_LATER = (
    "Imagen recibida, procesamiento en curso. Consulte el estado con GET /api/images/{id}"
)
DELETED = "Imagen eliminada exitosamente"
UNKNOWN_FAILURE = "Error procesando imagen: error desconocido"

_OPTION_FIELDS: dict[str, Any] = {
    "filename": {"type": "string", "maxLength": 255,
                 "description": "Nombre original del archivo"},
    "model_type": {"type": "string", "enum": list(MODEL_IDS), "default": DEFAULT_MODEL},
    "scale": {"type": "integer", "minimum": MIN_SCALE, "maximum": MAX_SCALE},
    # The pixel budget (MAX_OUTPUT_PIXELS, 413) is what really bounds these.
    "output_width": {"type": "integer", "minimum": 1, "maximum": MAX_DIMENSION},
    "output_height": {"type": "integer", "minimum": 1, "maximum": MAX_DIMENSION},
    "face_enhance": {"type": "boolean", "default": False},
    "callback_url": CALLBACK_URL_FIELD,
    "output_format": {"type": "string", "enum": list(OUTPUT_MEDIA), "default": "png",
                      "description": f"webp admite hasta {FORMAT_MAX_SIDE['webp']} px por lado "
                                     f"y jpeg hasta {FORMAT_MAX_SIDE['jpeg']} (más: 400 antes "
                                     "de procesar)"},
}
_ENHANCE_BODY = enhance_body("image_base64", _OPTION_FIELDS)


async def _accept(request: Request, user: AuthUser, runtime: Runtime) -> dict[str, Any]:
    # The upload's bytes live only in this frame, so they are freed before the wait.
    upload = await read_upload(request, runtime.settings.default_scale)
    await require_models(runtime, upload.model_type, upload.face_enhance, IMAGE_ERROR_PREFIX)
    checked = await check_image(upload, runtime.settings)
    return await submit_image(runtime, user, upload, checked)


@router.post("/enhance", status_code=http_status.HTTP_201_CREATED, openapi_extra=_ENHANCE_BODY,
             response_model=None, responses=answers(
                 {201: S.ImageAnswer, 202: {"model": S.ImageAnswer, "description": (
                     "still processing after IMAGE_WAIT_SECONDS: poll GET /api/images/{id}")}},
                 400, 401, 404, 413, 429, 500, 503, examples=QUOTA_EXAMPLE))
async def enhance(request: Request, user: CurrentUser, runtime: RuntimeDep) -> Response:
    submitted = await _accept(request, user, runtime)
    doc = await wait_for_image(
        runtime, submitted[F.ID], runtime.settings.image_wait_seconds, request.is_disconnected,
        request.app.state.finished,
    )
    if doc is None:  # deleted by its owner while we waited
        raise NotFound(NOT_FOUND)
    if doc[F.STATUS] == ImageStatus.FAILED:
        message = doc.get(F.ERROR_MESSAGE) or UNKNOWN_FAILURE
        if doc.get(F.ERROR_CODE) == MODEL_UNAVAILABLE:
            raise ModelUnavailable(message, retry_after=RETRY_SECONDS)
        raise ProcessingError(message)
    view = await full_view(runtime, doc)
    if doc[F.STATUS] == ImageStatus.COMPLETED:
        return await large_json({"message": COMPLETED, "image": view}, 201)
    return await large_json({"message": ACCEPTED_LATER, "image": view}, 202)


@router.get("", response_model=None, responses=answers({200: S.ImageList}, 400, 401, 503))
async def list_images(
    user: CurrentUser,
    runtime: RuntimeDep,
    page: Page = 1,
    per_page: PerPage = 10,
    status: ImageStatus | None = None,
) -> dict[str, Any]:
    total, docs = await owned_page(runtime.store.images, user, status, page, per_page)
    return {
        "total": total,
        "page": page,
        "per_page": per_page,
        "images": [summary_view(doc) for doc in docs],
    }


@router.get("/{image_id}", response_model=None,
            responses=answers({200: S.ImageOnly}, 400, 401, 404, 503))
async def get_image(
    image_id: str, user: CurrentUser, runtime: RuntimeDep, include_base64: bool = True
) -> Response:
    doc = await load_owned(runtime.store.images, image_id, user, NOT_FOUND)
    view = await full_view(runtime, doc) if include_base64 else detail_view(doc, None)
    return await large_json({"image": view})


@router.delete("/{image_id}", response_model=None,
               responses=answers({200: S.Message}, 401, 404, 503))
async def delete(image_id: str, user: CurrentUser, runtime: RuntimeDep) -> dict[str, str]:
    doc = await load_owned(runtime.store.images, image_id, user, NOT_FOUND, {F.ID: 1})
    await delete_image(runtime, user, doc[F.ID])
    return {"message": DELETED}


@router.get("/{image_id}/original", response_model=None, responses=answers(
    {200: binary("image/*", description="the uploaded file, as uploaded")}, 401, 404, 503))
async def download_original(
    image_id: str, user: CurrentUser, runtime: RuntimeDep
) -> Response:
    doc = await load_owned(runtime.store.images, image_id, user, NOT_FOUND)
    return await stream_blob(
        runtime,
        doc[F.ORIGINAL_BLOB],
        doc[F.ORIGINAL_FILENAME],
        doc.get(F.ORIGINAL_CONTENT_TYPE),
        NOT_FOUND,
    )


@router.get("/{image_id}/enhanced", response_model=None, responses=answers(
    {200: binary(*(media for media, _ in OUTPUT_MEDIA.values()),
                 description="the result in its output_format")}, 401, 404, 409, 503))
async def download_enhanced(
    image_id: str, user: CurrentUser, runtime: RuntimeDep
) -> Response:
    doc = await load_owned(runtime.store.images, image_id, user, NOT_FOUND)
    if doc[F.STATUS] != ImageStatus.COMPLETED or not doc.get(F.ENHANCED_BLOB):
        raise Conflict(f"La imagen mejorada aún no está disponible (estado: {doc[F.STATUS]})")
    fmt = doc.get(F.OUTPUT_FORMAT) or "png"
    content_type, extension = OUTPUT_MEDIA[fmt]
    name = f"{PurePosixPath(doc[F.ORIGINAL_FILENAME]).stem}_mejorado.{extension}"
    return await stream_blob(runtime, doc[F.ENHANCED_BLOB], name, content_type, NOT_FOUND)
