"""Reading a ``POST /api/videos/enhance`` request into a staged temp file plus its options.

Two encodings reach the same route: the manual's JSON (``video_base64``) and, for real-size
files, ``multipart/form-data`` (file field ``file`` or ``video``). Either way the video ends up
in a temporary file, so the probe can read it and GridFS can take it in chunks; a multipart
upload is spooled to disk by the form parser and copied, never held in memory whole. The
options are validated before the video is decoded, so a bad field costs nothing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import UploadFile

from common.errors import InvalidInput, UnsupportedFormat
from pipeline.upscale.engine.registry import DEFAULT_MODEL, get_model

FILE_FIELDS = ("file", "video")
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_DATA_URL = re.compile(r"^data:[^,;]*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_COPY_BUFFER = 1024 * 1024


class VideoOptions(BaseModel):
    """The manual's fields other than the video itself (form fields arrive as strings)."""

    model_config = ConfigDict(extra="ignore")
    filename: Annotated[str, Field(min_length=1, max_length=255)]
    model_type: str = DEFAULT_MODEL
    scale: Annotated[int | None, Field(ge=1, le=4)] = None
    face_enhance: bool = False

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


def clean_filename(raw: str) -> tuple[str, str]:
    """The base name of ``raw`` (no directories) and its extension; 400 without one."""
    name = PureWindowsPath(PurePosixPath(raw.strip()).name).name.strip()
    extension = PurePosixPath(name).suffix
    if not _EXTENSION.match(extension):
        raise InvalidInput(
            f"filename debe incluir una extensión válida (ej. mi_video.mp4): {raw!r}"
        )
    return name, extension.lower()


def _validate(model: type[VideoOptions], data: Any) -> VideoOptions:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # Same 400 "Campo inválido '<field>'" body as every other validated route.
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _resolve(options: VideoOptions) -> tuple[str, str, str, int]:
    name, extension = clean_filename(options.filename)
    spec = get_model(options.model_type)  # InvalidInput naming the allowed values
    return name, extension, spec.id, options.scale or spec.default_scale


@contextlib.asynccontextmanager
async def staged_video(request: Request) -> AsyncIterator[StagedVideo]:
    """The request's video in a temp file (removed on exit) with its validated options."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fd, tmp = tempfile.mkstemp(prefix="video-upload-")
    os.close(fd)
    path = Path(tmp)
    try:
        if content_type == "multipart/form-data":
            staged = await _from_multipart(request, path)
        elif content_type in ("application/json", ""):
            staged = await _from_json(request, path)
        else:
            raise UnsupportedFormat(
                f"Content-Type no soportado: {content_type!r}; use application/json "
                "o multipart/form-data"
            )
        yield staged
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


async def _from_json(request: Request, path: Path) -> StagedVideo:
    body = await request.body()
    try:
        data = VideoJson.model_validate_json(body) if body else None
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    if data is None:
        raise InvalidInput("Cuerpo JSON requerido con video_base64 y filename")
    del body
    name, extension, model_type, scale = _resolve(data)
    await asyncio.to_thread(_write_base64, data.video_base64, path)
    return StagedVideo(path, name, extension, model_type, scale, data.face_enhance)


def _write_base64(text: str, path: Path) -> None:
    text = _DATA_URL.sub("", text.strip(), count=1)
    if not text:
        raise InvalidInput("video_base64 está vacío")
    try:
        raw = base64.b64decode(_WHITESPACE.sub("", text), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("video_base64 no es base64 válido") from None
    if not raw:
        raise InvalidInput("video_base64 está vacío")
    path.write_bytes(raw)


async def _from_multipart(request: Request, path: Path) -> StagedVideo:
    # Starlette spools each file part to a temporary file past 1 MiB while parsing.
    form = await request.form(max_files=1, max_fields=16)
    try:
        upload = next((v for k in FILE_FIELDS if isinstance(v := form.get(k), UploadFile)), None)
        if upload is None:
            raise InvalidInput("Falta el archivo de video: campo 'file' (o 'video')")
        fields: dict[str, Any] = {
            k: v for k, v in form.items() if isinstance(v, str) and k not in FILE_FIELDS
        }
        if not fields.get("filename") and upload.filename:
            fields["filename"] = upload.filename
        options = _validate(VideoOptions, fields)
        name, extension, model_type, scale = _resolve(options)
        size = await asyncio.to_thread(_copy_upload, upload, path)
        if size == 0:
            raise InvalidInput("El archivo de video está vacío")
        return StagedVideo(path, name, extension, model_type, scale, options.face_enhance)
    finally:
        await form.close()


def _copy_upload(upload: UploadFile, path: Path) -> int:
    upload.file.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, _COPY_BUFFER)
        return out.tell()
