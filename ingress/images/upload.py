"""Reading a ``POST /api/images/enhance`` request into the image's bytes plus its options.

Two encodings reach the same route: the manual's JSON (``image_base64``) and, for real-size
files, ``multipart/form-data`` (file field ``file`` or ``image``, the other fields as form
fields). Images are bounded by the request limit (64 MB by default), so unlike videos they
are held in memory: the checks and GridFS both want the whole file anyway. The options are
validated before the image is decoded, so a bad field costs nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.contracts import OutputFormat
from common.errors import InvalidInput
from common.models import DEFAULT_MODEL, ModelSpec, get_model
from common.sizing import MAX_SCALE, MIN_SCALE
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

INVALID_DATA = "Datos de imagen inválidos"
FILE_FIELDS = ("file", "image")
# Keeps sizes within int32 and within float range for the aspect-ratio arithmetic; the
# output pixel budget refuses anything near it anyway.
MAX_DIMENSION = 2**31 - 1

Dimension = Annotated[int | None, Field(ge=1, le=MAX_DIMENSION)]


class ImageOptions(BaseModel):
    """The manual's fields other than the image itself (form fields arrive as strings)."""

    model_config = ConfigDict(extra="ignore")
    filename: Annotated[str | None, Field(max_length=255)] = None
    model_type: str = DEFAULT_MODEL
    scale: Annotated[int | None, Field(ge=MIN_SCALE, le=MAX_SCALE)] = None
    output_width: Dimension = None
    output_height: Dimension = None
    face_enhance: bool = False
    output_format: OutputFormat = "png"
    callback_url: CallbackUrl = None

    @field_validator("scale", "output_width", "output_height", mode="before")
    @classmethod
    def _no_bools(cls, value: Any) -> Any:
        # JSON ``true`` would otherwise pass as the integer 1.
        if isinstance(value, bool):
            raise ValueError("debe ser un entero, no un booleano")
        return value

    _face_enhance = field_validator("face_enhance", mode="before")(form_boolean)

    @field_validator("output_format", mode="before")
    @classmethod
    def _format_alias(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            return "jpeg" if value == "jpg" else value
        return value


class ImageJson(ImageOptions):
    image_base64: str


@dataclass(frozen=True)
class ImageUpload:
    data: bytes
    filename: str | None  # base name as the client gave it; None when it gave none
    model_type: str
    scale: int  # the request's, else the model's default (lowered to DEFAULT_SCALE)
    output_width: int | None
    output_height: int | None
    face_enhance: bool
    output_format: OutputFormat
    callback_url: str | None = None  # as given; checked at submission (``ingress.webhooks``)


def clean_filename(raw: str | None) -> str | None:
    """The base name of ``raw`` (no directories, either separator); None if nothing is left."""
    if raw is None:
        return None
    name = base_name(raw)
    return name if name not in ("", ".", "..") else None


def _upload(data: bytes, options: ImageOptions, spec: ModelSpec,
            default_scale: int) -> ImageUpload:
    return ImageUpload(
        data=data,
        filename=clean_filename(options.filename),
        model_type=spec.id,
        scale=options.scale or spec.request_default(default_scale),
        output_width=options.output_width,
        output_height=options.output_height,
        face_enhance=options.face_enhance,
        output_format=options.output_format,
        callback_url=options.callback_url,
    )


async def read_upload(request: Request, default_scale: int) -> ImageUpload:
    """The request's image bytes (not yet checked to be an image) and validated options;
    ``default_scale`` is the ``DEFAULT_SCALE`` setting."""
    if body_kind(request) == "multipart":
        return await _from_multipart(request, default_scale)
    return await _from_json(request, default_scale)


async def _from_json(request: Request, default_scale: int) -> ImageUpload:
    body = await request.body()
    if not body:
        raise InvalidInput("Cuerpo JSON requerido con image_base64")
    data = validate_json(ImageJson, body)
    del body
    # A bad model is refused before megabytes of base64 are decoded (InvalidInput naming
    # model_type and the allowed values).
    spec = get_model(data.model_type)
    raw = await asyncio.to_thread(
        decode_base64, data.image_base64, invalid=INVALID_DATA, empty=INVALID_DATA
    )
    return _upload(raw, data, spec, default_scale)


async def _from_multipart(request: Request, default_scale: int) -> ImageUpload:
    async with form_parts(request, FILE_FIELDS) as (upload, fields):
        if upload is None:
            raise InvalidInput("Falta el archivo de imagen: campo 'file' (o 'image')")
        options = validate_form(ImageOptions, fields)
        spec = get_model(options.model_type)
        raw = await upload.read()
        if not raw:
            raise InvalidInput(INVALID_DATA)
        return _upload(raw, options, spec, default_scale)
