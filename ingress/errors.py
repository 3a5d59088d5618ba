"""The API edge: the only place where the exception tree becomes HTTP.

Every error body is the manual's ``{"error": "..."}``; FastAPI's default 422 validation shape
is replaced by a 400 that names the offending field.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pymongo.errors import ConnectionFailure, PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from common import errors

log = logging.getLogger(__name__)
NO_SUCH_PATH = "Ruta no encontrada"  # a path no route serves (Starlette says "Not Found")

_STATUS: tuple[tuple[type[errors.EnhancerError], int], ...] = (
    (errors.TooLarge, 413),
    (errors.InvalidInput, 400),
    (errors.AuthError, 401),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.RateLimited, 429),
    (errors.ServiceUnavailable, 503),
    (errors.ModelUnavailable, 503),
    (errors.ConfigError, 500),
    (errors.ProcessingError, 500),
)


DATABASE_UNAVAILABLE = "Base de datos no disponible temporalmente, inténtelo de nuevo"
# What a 503 tells clients to wait before retrying: outages here last seconds, not hours.
RETRY_AFTER_SECONDS = 5


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def status_for(exc: errors.EnhancerError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def _field_name(loc: tuple[object, ...]) -> str:
    # ("body", "scale") -> "scale"; ("query", "page") -> "page"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _on_enhancer_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.EnhancerError)
    status = status_for(exc)
    if status >= 500:
        log.warning("request failed: %s", exc)
    headers = None
    if isinstance(exc, errors.RateLimited | errors.ModelUnavailable) and exc.retry_after:
        headers = {"Retry-After": str(exc.retry_after)}
    elif status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return error_response(status, str(exc), headers)


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """The database did not answer within MONGO_TIMEOUT_SECONDS (paused, down, unreachable):
    a 503 the client may retry, never a 500. Other driver errors are bugs (500)."""
    assert isinstance(exc, PyMongoError)
    if not (isinstance(exc, ConnectionFailure) or exc.timeout):
        return await _on_unexpected(request, exc)
    log.warning("database unavailable: %s", str(exc).split(", Timeout:", 1)[0][:300])
    return error_response(
        503, DATABASE_UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    message = f"Campo inválido '{_field_name(tuple(first['loc']))}': {first['msg']}"
    return error_response(400, message)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _documented_methods(request: Request) -> set[str]:
    """The methods ``/openapi.json`` lists for this path: its literal entry (such as
    ``/api/images/enhance``) when there is one, else every template that matches it."""
    paths: dict[str, dict[str, object]] = request.app.openapi()["paths"]
    path = request.scope["path"]
    if path in paths:
        return {method.upper() for method in paths[path]}
    return {method.upper() for template, operations in paths.items()
            if re.fullmatch(_template_regex(template), path) for method in operations}


def _template_regex(template: str) -> str:
    """``/api/images/{image_id}`` → a regex matching one value per ``{parameter}``."""
    return "".join("[^/]+" if part.startswith("{") else re.escape(part)
                   for part in re.split(r"(\{[^/]+?\})", template))


def allowed_methods(request: Request) -> str:
    """The ``Allow`` of a 405 (and of OPTIONS): the router's own 405 names only the first
    route it met, while a path here has one route per method. Paths outside the document
    (``/openapi.json``, the docs pages) are asked of the router, one method at a time."""
    allowed = _documented_methods(request) or {
        method for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
               for route in request.app.router.routes)}
    return ", ".join(sorted(allowed | {"OPTIONS"}))


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
        if request.method == "OPTIONS":  # what this path supports (RFC 9110, 9.3.7)
            return Response(status_code=204, headers=headers)
        return error_response(405, "Método no permitido", headers)
    if exc.status_code == 404 and exc.detail == "Not Found":  # the router's: no such path
        return error_response(404, NO_SUCH_PATH, headers)
    return error_response(exc.status_code, str(exc.detail), headers)


async def _on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "Error interno del servidor")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.EnhancerError, _on_enhancer_error)
    app.add_exception_handler(PyMongoError, _on_database_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
