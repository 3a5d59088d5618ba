"""What each route documents it answers: its success body and every error status it returns.

Routes pass ``responses=answers(...)`` and ``response_model=None`` (the views build the bodies;
the models here only describe them). Every error is the manual's ``{"error": "..."}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from common.settings import Settings
from ingress.openapi.schemas import ErrorBody
from ingress.quota import TOO_MANY_ACTIVE

_RETRY_AFTER = {"Retry-After": {"description": "segundos hasta el próximo intento útil",
                                "schema": {"type": "integer", "minimum": 1}}}

ERRORS: dict[int, tuple[str, str]] = {
    400: ("Entrada inválida: nombra el campo y el motivo", "Datos de imagen inválidos"),
    401: ("Falta el token o no es válido (también si expiró o fue revocado)",
          "Token de autenticación requerido"),
    404: ("No existe o no es del usuario (no se distingue)", "Imagen no encontrada"),
    409: ("Conflicto con el estado actual", "El email ya está registrado"),
    413: ("Cuerpo o imagen por encima de los límites configurados",
          "Solicitud demasiado grande: el máximo es 67108864 bytes"),
    429: ("Demasiados intentos de inicio de sesión, trabajos en curso (MAX_ACTIVE_JOBS_PER_USER) "
          "o envíos por minuto (MAX_SUBMISSIONS_PER_MINUTE): nada se guardó; reintente tras "
          "Retry-After",
          "Demasiados intentos fallidos. Intente de nuevo en 300 segundos"),
    500: ("El worker no pudo procesar la imagen", "Error procesando imagen: CUDA out of memory"),
    503: ("Un servicio no responde (base de datos, broker), o los pesos del modelo pedido no "
          "se pueden obtener: el mensaje dice qué comando los descarga o importa",
          "Modelo general_v3 no disponible: faltan sus pesos (realesr-general-x4v3.pth). "
          "Descárguelos con: .venv/bin/python -m pipeline.upscale.engine.weights fetch "
          "general_v3 ..."),
}

_DOWNLOAD_HEADERS = {
    "Content-Disposition": "attachment, con el nombre del archivo",
    "X-Content-Type-Options": "nosniff: el tipo declarado, nunca otro",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}
# The submit routes' 429: the per-user quota (ingress/quota.py), at its default limit.
QUOTA_EXAMPLE = {429: TOO_MANY_ACTIVE.format(
    limit=Settings.model_fields["max_active_jobs_per_user"].default)}


def error(status: int, example: str | None = None) -> dict[str, Any]:
    description, usual = ERRORS[status]
    example = example or usual
    answer: dict[str, Any] = {
        "model": ErrorBody, "description": description,
        "content": {"application/json": {"example": {"error": example}}},
    }
    if status in (429, 503):
        answer["headers"] = _RETRY_AFTER
    return answer


def answers(ok: dict[int, type[BaseModel] | dict[str, Any]], *errors: int,
            examples: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each success status with its body model (or a raw
    OpenAPI response), then the given error statuses (``examples``: the route's own text)."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status, body in ok.items():
        documented[status] = body if isinstance(body, dict) else {"model": body}
    return documented | error_answers(*errors, examples=examples)


def error_answers(*statuses: int, examples: dict[int, str] | None = None,
                  ) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route whose success body is its ``response_model``: only the
    error statuses it can really answer (``examples``: a route's own text for some)."""
    return {status: error(status, (examples or {}).get(status)) for status in statuses}


def binary(*media_types: str, description: str) -> dict[str, Any]:
    """A download: the file's bytes in one of ``media_types``, with the headers every download
    carries (``ingress.downloads``)."""
    return {"description": description,
            "headers": {name: {"description": text, "schema": {"type": "string"}}
                        for name, text in _DOWNLOAD_HEADERS.items()},
            "content": {t: {"schema": {"type": "string", "format": "binary"}}
                        for t in media_types}}


def _json_text(*models: type[BaseModel]) -> dict[str, Any]:
    refs = [{"$ref": f"#/components/schemas/{model.__name__}"} for model in models]
    return {"type": "string", "contentMediaType": "application/json",
            "contentSchema": refs[0] if len(refs) == 1 else {"anyOf": refs}}


def event_stream(job: type[BaseModel], events: Sequence[str], gone: str, *,
                 description: str) -> dict[str, Any]:
    """A ``text/event-stream`` answer. OpenAPI 3.1 has no ``itemSchema``, so ``schema``
    describes one event as an SSE parser hands it over (``event``, ``data``, ``id``,
    ``retry``): one of ``events`` whose ``data`` is the job object as JSON (``job``, a
    component the document already holds), or ``gone`` with the error body once the job is
    deleted."""
    event_id = {"type": "string", "pattern": "^[0-9]+$",
                "description": "última actualización del trabajo en ms (Last-Event-ID)"}
    retry = {"type": "integer", "minimum": 0}
    shapes = [
        {"type": "object", "required": ["event", "data"],
         "properties": {"event": {"enum": list(events)}, "data": _json_text(job),
                        "id": event_id, "retry": retry}},
        {"type": "object", "required": ["event", "data"],
         "properties": {"event": {"const": gone}, "data": _json_text(ErrorBody),
                        "id": event_id, "retry": retry}},
    ]
    return {"description": description,
            "content": {"text/event-stream": {"schema": {"anyOf": shapes}}}}
