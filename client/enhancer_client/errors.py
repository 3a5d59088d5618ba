"""The SDK's one exception tree.

Every error the API answers becomes an ``ApiError`` carrying the HTTP status and the
manual's ``{"error": "..."}`` text unchanged (Spanish, as the service writes it), so a
script can show it or match on it. Network failures and failed jobs have their own
branches, so callers can tell "the service said no" from "we could not reach it" from
"the job ran and failed".
"""

from __future__ import annotations

from typing import Any

import httpx


class EnhancerError(Exception):
    """Base of everything this package raises on purpose."""


class ApiError(EnhancerError):
    """The API answered with an error status; ``message`` is its ``error`` text."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.body = body


class BadRequestError(ApiError):
    """400: the service refused the input (e.g. ``Formato no soportado: gif``)."""


class AuthError(ApiError):
    """401: credentials refused, or a token that no refresh could renew."""


class NotFoundError(ApiError):
    """404: no such object for this user (the API does not tell which)."""


class ConflictError(ApiError):
    """409: e.g. a duplicate account, or a result asked for before the job completed."""


class TooLargeError(ApiError):
    """413: over one of the service's size or pixel limits."""


class RateLimitedError(ApiError):
    """429: too many attempts; ``retry_after`` is the server's ``Retry-After`` in seconds."""

    def __init__(self, status: int, message: str, body: Any = None,
                 retry_after: float | None = None) -> None:
        super().__init__(status, message, body)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the service failed, or one of its dependencies is unavailable (503)."""


class JobFailedError(EnhancerError):
    """A job ran and ended in ``failed`` (images) or ``error`` (videos).

    ``job`` is the final ``Image``/``Video`` when known; ``status`` is the HTTP status that
    reported it (500 when ``POST /api/images/enhance`` answers the worker's error, 503 when
    the model's weights cannot be had).
    """

    def __init__(self, message: str, job: Any = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.job = job
        self.status = status


class WaitTimeout(EnhancerError, TimeoutError):
    """A job was still running when the caller's ``timeout`` ran out (it goes on)."""


class ConnectionFailed(EnhancerError):
    """The service could not be reached or the connection broke (after any retries)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthError,
    404: NotFoundError,
    409: ConflictError,
    413: TooLargeError,
    429: RateLimitedError,
}

# The prefix of the 500 that POST /api/images/enhance answers when the worker failed.
IMAGE_FAILED_PREFIX = "Error procesando imagen"


def error_from_response(response: httpx.Response) -> ApiError:
    """The exception for an error answer (its body must have been read)."""
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
    elif isinstance(body, dict) and isinstance(body.get("detail"), str):
        message = body["detail"]
    else:
        message = response.text.strip() or response.reason_phrase
    status = response.status_code
    if status == 429:
        return RateLimitedError(status, message, body, _retry_after(response))
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    return kind(status, message, body)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None
