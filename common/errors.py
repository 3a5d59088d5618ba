"""The one exception tree of the service.

Every layer raises these; only the API edge (``ingress.errors``) maps them to HTTP status
codes and the manual's ``{"error": "..."}`` bodies, and only the stage runner maps them to
ack / retry / dead-letter decisions.
"""

from __future__ import annotations


class EnhancerError(Exception):
    """Base of every error this service raises on purpose."""


class ConfigError(EnhancerError):
    """A setting is missing or invalid; the message names the variable."""


class ServiceUnavailable(EnhancerError):
    """A dependency (database, broker) cannot be reached right now; retrying later may work."""


class PublishError(ServiceUnavailable):
    """The broker did not confirm a publish, so the message may not exist."""


class InvalidInput(EnhancerError):
    """The caller sent something we will not process (maps to 400)."""


class UnsupportedFormat(InvalidInput):
    """A well-formed file in a format we do not accept (maps to 400 "Formato no soportado")."""


class TooLarge(InvalidInput):
    """The input exceeds a configured size or pixel budget (maps to 413)."""


class NotFound(EnhancerError):
    """The object does not exist or is not the caller's (maps to 404)."""


class Conflict(EnhancerError):
    """A uniqueness rule was violated (maps to 409)."""


class AuthError(EnhancerError):
    """Authentication failed (maps to 401)."""


class RateLimited(EnhancerError):
    """Too many attempts in a window (maps to 429 with ``Retry-After``)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class ProcessingError(EnhancerError):
    """Running a model or codec failed; the message is shown to the user."""


class ModelUnavailable(EnhancerError):
    """A model's weights are not on the worker's host and could not be fetched or converted
    (maps to 503 with ``Retry-After``: the worker tries again after that many seconds). Not a
    ``ServiceUnavailable``: the job fails at once instead of being redelivered."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = None if retry_after is None else max(1, int(retry_after))


class PermanentFailure(EnhancerError):
    """A message that can never succeed: dead-letter it now instead of retrying."""
