"""OpenAPI descriptions of the manual's error body, for routes that declare their answers.

Every error is ``{"error": "<text>"}`` (``ingress/errors.py``); ``error_responses(400, 401)``
documents that body under each status a route can really answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

_MEANING = {
    400: "Bad input; the text names the field",
    401: "Token de autenticación requerido / Token inválido o expirado",
    403: "Not allowed",
    404: "Not found (or someone else's)",
    409: "Conflict",
    413: "Too large",
    429: "Too many attempts",
    503: "A dependency (database, broker) is unavailable",
}


class ErrorBody(BaseModel):
    error: str = Field(description="Mensaje de error legible")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": _MEANING.get(status, "Error")}
            for status in statuses}
