"""Reading a ``POST /api/videos/enhance`` request into a staged temp file plus its options.

Two encodings reach the same route: the manual's JSON (``video_base64``) and, for real-size
files, ``multipart/form-data`` (file field ``file`` or ``video``). Either way the video ends up
in a temporary file, so the probe can read it and GridFS can take it in chunks; a multipart
upload is spooled to disk by the form parser and copied, never held in memory whole. The
options are validated before the video is decoded, so a bad field costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from starlette.datastructures import UploadFile

from common.errors import InvalidInput
from common.models import DEFAULT_MODEL, get_model
from common.sizing import MAX_SCALE, MIN_SCALE
from common.skip_similar import similar_threshold
from ingress.uploads import (
    CallbackUrl,
    base_name,
    body_kind,
    decode_base64,
    form_boolean,
    form_parts,
    validate_form,
    validate_json,
)

FILE_FIELDS = ("file", "video")
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_COPY_BUFFER = 1024 * 1024


class VideoOptions(BaseModel):
    """The manual's fields other than the video itself (form fields arrive as strings)."""

    model_config = ConfigDict(extra="ignore")
    filename: Annotated[str, Field(min_length=1, max_length=255)]
    model_type: str = DEFAULT_MODEL
    scale: Annotated[int | None, Field(ge=MIN_SCALE, le=MAX_SCALE)] = None
    face_enhance: bool = False
    callback_url: CallbackUrl = None
    # Near-repeat threshold in dB (``true``: the default one); None: exact repeats only.
    skip_similar: float | None = None

    _face_enhance = field_validator("face_enhance", mode="before")(form_boolean)

    @field_validator("skip_similar", mode="before")
    @classmethod
    def _threshold(cls, value: Any, info: ValidationInfo) -> float | None:
        return similar_threshold(value, form=bool((info.context or {}).get("form")))

    @field_validator("scale", mode="before")
    @classmethod
    def _no_bool_scale(cls, value: Any) -> Any:
        # JSON ``true`` would otherwise pass as scale 1.
        if isinstance(value, bool):
            raise ValueError("scale debe ser un entero entre 1 y 4")
        return value


class VideoJson(VideoOptions):
    video_base64: str


@dataclass(frozen=True)
class StagedVideo:
    path: Path
    filename: str  # base name, extension kept
    extension: str  # ".mp4"
    model_type: str
    scale: int
    face_enhance: bool
    callback_url: str | None = None  # as given; checked at submission (``ingress.webhooks``)
    skip_similar: float | None = None


def clean_filename(raw: str) -> tuple[str, str]:
    """The base name of ``raw`` (no directories) and its extension; 400 without one."""
    name = base_name(raw)
    extension = PurePosixPath(name).suffix
    if not _EXTENSION.match(extension):
        raise InvalidInput(
            f"filename debe incluir una extensión válida (ej. mi_video.mp4): {raw!r}"
        )
    return name, extension.lower()


def _resolve(options: VideoOptions, default_scale: int) -> tuple[str, str, str, int]:
    name, extension = clean_filename(options.filename)
    spec = get_model(options.model_type)  # InvalidInput naming the allowed values
    return name, extension, spec.id, options.scale or spec.request_default(default_scale)


@contextlib.asynccontextmanager
async def staged_video(request: Request, default_scale: int) -> AsyncIterator[StagedVideo]:
    """The request's video in a temp file (removed on exit) with its validated options;
    ``default_scale`` is the ``DEFAULT_SCALE`` setting."""
    kind = body_kind(request)
    fd, tmp = tempfile.mkstemp(prefix="video-upload-")
    os.close(fd)
    path = Path(tmp)
    try:
        if kind == "multipart":
            staged = await _from_multipart(request, path, default_scale)
        else:
            staged = await _from_json(request, path, default_scale)
        yield staged
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


async def _from_json(request: Request, path: Path, default_scale: int) -> StagedVideo:
    body = await request.body()
    if not body:
        raise InvalidInput("Cuerpo JSON requerido con video_base64 y filename")
    data = validate_json(VideoJson, body)
    del body
    name, extension, model_type, scale = _resolve(data, default_scale)
    await asyncio.to_thread(_write_base64, data.video_base64, path)
    return StagedVideo(path, name, extension, model_type, scale, data.face_enhance,
                       data.callback_url, data.skip_similar)


def _write_base64(text: str, path: Path) -> None:
    raw = decode_base64(
        text, invalid="video_base64 no es base64 válido", empty="video_base64 está vacío"
    )
    path.write_bytes(raw)


async def _from_multipart(request: Request, path: Path, default_scale: int) -> StagedVideo:
    async with form_parts(request, FILE_FIELDS) as (upload, fields):
        if upload is None:
            raise InvalidInput("Falta el archivo de video: campo 'file' (o 'video')")
        options = validate_form(VideoOptions, fields)
        name, extension, model_type, scale = _resolve(options, default_scale)
        size = await asyncio.to_thread(_copy_upload, upload, path)
        if size == 0:
            raise InvalidInput("El archivo de video está vacío")
        return StagedVideo(path, name, extension, model_type, scale, options.face_enhance,
                           options.callback_url, options.skip_similar)


def _copy_upload(upload: UploadFile, path: Path) -> int:
    upload.file.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, _COPY_BUFFER)
        return out.tell()
