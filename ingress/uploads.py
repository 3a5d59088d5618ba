"""Request parsing shared by ``POST /api/images/enhance`` and ``POST /api/videos/enhance``.

Both routes take the same two encodings (the manual's JSON with a base64 field, or
``multipart/form-data`` with a file field plus string fields) and refuse bad input the same
way, so the mechanics live here once: the OpenAPI request body, the Content-Type dispatch,
pydantic validation as the usual 400, splitting a form and decoding base64. What differs per
medium (field names, the error texts a client sees, holding bytes in memory or on disk) stays
in ``ingress/images/upload.py`` and ``ingress/videos/upload.py``.
"""

from __future__ import annotations

import base64
import contextlib
import re
import unicodedata
from collections.abc import AsyncIterator, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError, ValidationInfo
from starlette.datastructures import FormData, UploadFile

from common.errors import InvalidInput, UnsupportedFormat
from common.webhooks.addresses import CALLBACK_URL_PATTERN, MAX_URL_LENGTH

Model = TypeVar("Model", bound=BaseModel)
# Where to POST the job once it ends (checked at submission: ``ingress.callbacks``); empty
# means the user's default. The pattern is the rule the check applies to the text.
CallbackUrl = Annotated[str, Field(max_length=MAX_URL_LENGTH,
                                   json_schema_extra={"pattern": CALLBACK_URL_PATTERN})] | None
CALLBACK_URL_RULE = (
    "URL http(s) (sin credenciales ni espacios; puerto 1-65535) cuyo host resuelva ahora a "
    "direcciones públicas (WEBHOOK_ALLOW_NETWORKS añade redes); si no, 400")
CALLBACK_URL_FIELD: dict[str, Any] = {
    "type": "string",
    "pattern": CALLBACK_URL_PATTERN,
    "maxLength": MAX_URL_LENGTH,
    "description": f"{CALLBACK_URL_RULE}. Recibe el trabajo firmado cuando termina; vacía: "
    "la de PUT /api/webhooks",
}
_DATA_URL = re.compile(r"^data:[^,;]*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def enhance_body(
    payload_field: str,
    options: dict[str, Any],
    *,
    required: Sequence[str] = (),
    file_field: str = "file",
) -> dict[str, Any]:
    """``openapi_extra`` for a route reading its body itself: JSON (``payload_field`` in
    base64, plus ``required``) or multipart (``file_field``), both with ``options``."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": [payload_field, *required],
                        # An empty string decodes to nothing: refused (400), as it says here.
                        "properties": {payload_field: {"type": "string", "minLength": 1,
                                                       "description": "base64 (or a data URL)"},
                                       **options},
                    }
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [file_field],
                        "properties": {
                            file_field: {"type": "string", "format": "binary"},
                            **options,
                        },
                    }
                },
            },
        }
    }


def body_kind(request: Request) -> Literal["json", "multipart"]:
    """Which encoding the request uses; a missing Content-Type is taken as JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return "multipart"
    if content_type in ("application/json", ""):
        return "json"
    raise UnsupportedFormat(
        f"Content-Type no soportado: {content_type!r}; use application/json o multipart/form-data"
    )


FORM = {"form": True}


def validate_form(model: type[Model], fields: dict[str, Any]) -> Model:
    """A multipart form's string fields: numbers as their decimal text, booleans as
    ``true``/``false`` only (``form_boolean``), as the OpenAPI document says."""
    try:
        return model.model_validate(fields, context=FORM)
    except ValidationError as exc:
        # Same 400 "Campo inválido '<field>'" body as every other validated route.
        raise RequestValidationError(exc.errors(include_url=False)) from None


def validate_json(model: type[Model], body: bytes) -> Model:
    """The JSON types exactly as the OpenAPI document gives them (``strict``): ``"4"`` is not
    an integer, nor ``1`` or ``"true"`` a boolean."""
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def form_boolean(value: Any, info: ValidationInfo) -> Any:
    """A ``field_validator(mode="before")`` for boolean fields: in a form, only ``true`` and
    ``false`` (any case) are booleans (what browsers' Swagger UI and our client send)."""
    if isinstance(value, str) and (info.context or {}).get("form"):
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError("debe ser true o false")
        return lowered == "true"
    return value


def split_form(
    form: FormData, file_fields: Sequence[str]
) -> tuple[UploadFile | None, dict[str, Any]]:
    """The first upload under ``file_fields`` and the other string fields; ``filename``
    falls back to the upload's own name when the form leaves it out or empty."""
    upload = next((v for k in file_fields if isinstance(v := form.get(k), UploadFile)), None)
    fields: dict[str, Any] = {
        k: v for k, v in form.items() if isinstance(v, str) and k not in file_fields
    }
    if upload is not None and not fields.get("filename") and upload.filename:
        fields["filename"] = upload.filename
    return upload, fields


@contextlib.asynccontextmanager
async def form_parts(
    request: Request, file_fields: Sequence[str]
) -> AsyncIterator[tuple[UploadFile | None, dict[str, Any]]]:
    """``split_form`` of the request's form, whose spooled files are closed on exit."""
    # Starlette spools each file part to a temporary file past 1 MiB while parsing.
    form = await request.form(max_files=1, max_fields=16)
    try:
        yield split_form(form, file_fields)
    finally:
        await form.close()


def decode_base64(text: str, *, invalid: str, empty: str) -> bytes:
    """Standard base64, optionally as a data URL and with line breaks, else InvalidInput
    with the caller's ``invalid`` (not base64) or ``empty`` (nothing decoded) text."""
    text = _DATA_URL.sub("", text.strip(), count=1)
    try:
        raw = base64.b64decode(_WHITESPACE.sub("", text), validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters
        raise InvalidInput(invalid) from None
    if not raw:
        raise InvalidInput(empty)
    return raw


def base_name(raw: str) -> str:
    """``raw`` without directories under either separator nor control characters (a CR/LF
    would otherwise reach the ``Content-Disposition`` header of every download); may be "",
    "." or ".."."""
    printable = "".join(c for c in raw if unicodedata.category(c) != "Cc")
    return PureWindowsPath(PurePosixPath(printable.strip()).name).name.strip()
