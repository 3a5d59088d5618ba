"""The manual's "Procesamiento de Videos" endpoints, plus downloads for real-size files.

Processing is asynchronous: ``POST /api/videos/enhance`` probes and stores the upload,
publishes it to the decode stage and answers 202 at once; clients poll ``GET
/api/videos/{id}``. Every object route answers the same 404 for a missing, malformed or
someone else's id (``load_owned``).
"""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter, Request
from fastapi import status as http_status
from fastapi.responses import JSONResponse, Response

from common.errors import Conflict
from common.jobs import fields as F
from common.jobs.status import VideoStatus
from common.models import DEFAULT_MODEL, MODEL_IDS
from common.sizing import MAX_SCALE, MIN_SCALE
from common.skip_similar import DEFAULT_DB, MAX_DB, MIN_DB
from common.store.ids import utcnow
from ingress.auth.current import CurrentUser
from ingress.deps import RuntimeDep
from ingress.downloads import blob_base64, stream_blob
from ingress.listing import Page, PerPage, owned_page
from ingress.openapi import schemas as S
from ingress.openapi.responses import QUOTA_EXAMPLE, answers, binary
from ingress.ownership import load_owned
from ingress.uploads import CALLBACK_URL_FIELD, enhance_body
from ingress.videos.documents import detail_view, submitted_view, summary_view
from ingress.videos.jobs import NOT_FOUND, delete_video, submit_video
from ingress.videos.upload import staged_video

router = APIRouter(prefix="/api/videos", tags=["videos"])

SUBMITTED = "Video recibido, procesamiento iniciado. Consulte el estado con GET /api/videos/{id}"
DELETED = "Video eliminado exitosamente"
ENHANCED_TYPE = "video/x-matroska"

_OPTION_FIELDS: dict[str, Any] = {
    "filename": {"type": "string", "minLength": 1, "maxLength": 255,
                 "description": "Nombre original del archivo con extensión (ej. mi_video.mp4)"},
    "model_type": {"type": "string", "enum": list(MODEL_IDS), "default": DEFAULT_MODEL},
    "scale": {"type": "integer", "minimum": MIN_SCALE, "maximum": MAX_SCALE},
    "face_enhance": {"type": "boolean", "default": False},
    "callback_url": CALLBACK_URL_FIELD,
    "skip_similar": {
        "oneOf": [{"type": "boolean"},
                  {"type": "number", "minimum": MIN_DB, "maximum": MAX_DB}],
        "default": False,
        "description": "Reutilizar la salida del último fotograma procesado cuando el nuevo "
                       "está a este PSNR (dB) o más de él: true usa el umbral por defecto "
                       f"({DEFAULT_DB:g} dB), false lo desactiva. Los fotogramas idénticos al "
                       "anterior se reutilizan siempre (resultado idéntico); ver "
                       "docs/repeated-frames.md.",
    },
}
_ENHANCE_BODY = enhance_body("video_base64", _OPTION_FIELDS, required=("filename",))
# The stages' progress bookkeeping stays out of what the API reads.
_PUBLIC = {F.PROGRESS_KEYS: 0}


@router.post("/enhance", status_code=http_status.HTTP_202_ACCEPTED, openapi_extra=_ENHANCE_BODY,
             response_model=None,
             responses=answers({202: S.VideoSubmitted}, 400, 401, 413, 429, 503,
                               examples=QUOTA_EXAMPLE))
async def enhance(request: Request, user: CurrentUser, runtime: RuntimeDep) -> JSONResponse:
    async with staged_video(request, runtime.settings.default_scale) as staged:
        doc = await submit_video(runtime, user, staged)
    return JSONResponse(
        {"message": SUBMITTED, "video": submitted_view(doc)},
        status_code=http_status.HTTP_202_ACCEPTED,
    )


@router.get("", response_model=None, responses=answers({200: S.VideoList}, 400, 401, 503))
async def list_videos(
    user: CurrentUser,
    runtime: RuntimeDep,
    page: Page = 1,
    per_page: PerPage = 10,
    status: VideoStatus | None = None,
) -> dict[str, Any]:
    total, docs = await owned_page(runtime.store.videos, user, status, page, per_page, _PUBLIC)
    now = utcnow()
    return {
        "total": total,
        "page": page,
        "per_page": per_page,
        "videos": [summary_view(doc, now) for doc in docs],
    }


@router.get("/{video_id}", response_model=None,
            responses=answers({200: S.VideoOnly}, 400, 401, 404, 503))
async def get_video(
    video_id: str, user: CurrentUser, runtime: RuntimeDep, include_base64: bool = True
) -> dict[str, Any]:
    doc = await load_owned(runtime.store.videos, video_id, user, NOT_FOUND, _PUBLIC)
    payloads: tuple[str | None, str | None] | None = None
    if include_base64:
        # The manual shows both null until the job has completed.
        payloads = (None, None)
        if doc[F.STATUS] == VideoStatus.COMPLETED:
            original, enhanced = await asyncio.gather(
                blob_base64(runtime, doc.get(F.ORIGINAL_BLOB)),
                blob_base64(runtime, doc.get(F.ENHANCED_BLOB)),
            )
            payloads = (original, enhanced)
    return {"video": detail_view(doc, utcnow(), payloads)}


@router.delete("/{video_id}", response_model=None,
               responses=answers({200: S.Message}, 401, 404, 503))
async def delete(video_id: str, user: CurrentUser, runtime: RuntimeDep) -> dict[str, str]:
    doc = await load_owned(runtime.store.videos, video_id, user, NOT_FOUND, {F.ID: 1})
    await delete_video(runtime, user, doc[F.ID])
    return {"message": DELETED}


@router.get("/{video_id}/original", response_model=None, responses=answers(
    {200: binary("video/*", "application/octet-stream", description="the uploaded file")},
    401, 404, 503))
async def download_original(
    video_id: str, user: CurrentUser, runtime: RuntimeDep
) -> Response:
    doc = await load_owned(runtime.store.videos, video_id, user, NOT_FOUND)
    return await stream_blob(
        runtime, doc[F.ORIGINAL_BLOB], doc[F.ORIGINAL_FILENAME], None, NOT_FOUND
    )


@router.get("/{video_id}/enhanced", response_model=None, responses=answers(
    {200: binary(ENHANCED_TYPE, description="the result: H.264 in Matroska")}, 401, 404, 409,
    503))
async def download_enhanced(
    video_id: str, user: CurrentUser, runtime: RuntimeDep
) -> Response:
    doc = await load_owned(runtime.store.videos, video_id, user, NOT_FOUND)
    if doc[F.STATUS] != VideoStatus.COMPLETED or not doc.get(F.ENHANCED_BLOB):
        raise Conflict(f"El video mejorado aún no está disponible (estado: {doc[F.STATUS]})")
    name = f"{PurePosixPath(doc[F.ORIGINAL_FILENAME]).stem}_mejorado.mkv"
    return await stream_blob(runtime, doc[F.ENHANCED_BLOB], name, ENHANCED_TYPE, NOT_FOUND)
