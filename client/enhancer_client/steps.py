"""The sans-I/O core: what a client operation asks its driver to do.

Every operation (``plans.py``) is a generator that yields steps and receives their results,
so its logic (what to send, how to read the answer, when to poll, retry or fall back) is
written once and driven by both the blocking ``Client`` and the ``AsyncClient``. A driver
throws ``ApiError`` and ``ConnectionFailed`` back into the generator, which may handle them.
"""

from __future__ import annotations

import contextlib
import mimetypes
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import httpx

T = TypeVar("T")

Source = str | PathLike[str] | bytes


@dataclass(frozen=True)
class Upload:
    """A file sent as ``multipart/form-data``: read from disk on each attempt, or bytes."""

    field: str
    source: Path | bytes
    filename: str

    @classmethod
    def of(cls, field: str, source: Source, filename: str | None, fallback: str) -> Upload:
        if isinstance(source, bytes):
            return cls(field, source, filename or fallback)
        path = Path(source)
        return cls(field, path, filename or path.name)

    @contextlib.contextmanager
    def opened(self) -> Iterator[dict[str, tuple[str, bytes | IO[bytes], str]]]:
        kind = mimetypes.guess_type(self.filename)[0] or "application/octet-stream"
        if isinstance(self.source, bytes):
            yield {self.field: (self.filename, self.source, kind)}
            return
        with self.source.open("rb") as handle:
            yield {self.field: (self.filename, handle, kind)}


@contextlib.contextmanager
def open_files(upload: Upload | None) -> Iterator[dict[str, Any] | None]:
    """httpx's ``files=`` for a request: the upload opened afresh for this attempt, or None."""
    if upload is None:
        yield None
        return
    with upload.opened() as files:
        yield files


@dataclass(frozen=True)
class Send:
    """One HTTP exchange; the driver adds the bearer token when ``auth``, renews it once on
    401, and raises ``ApiError`` for any error status. Result: the read ``httpx.Response``."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    form: dict[str, str] | None = None
    upload: Upload | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: bool = True
    timeout: httpx.Timeout | None = None


@dataclass(frozen=True)
class Open:
    """``send`` with the body left unread. Result: a handle for ``Read``."""

    send: Send


@dataclass(frozen=True)
class Read:
    """The next line (``"lines"``) or chunk (``"bytes"``) of an opened body; None at its end."""

    handle: Any
    unit: Literal["lines", "bytes"]


@dataclass(frozen=True)
class Close:
    handle: Any


@dataclass(frozen=True)
class Sleep:
    seconds: float


# The driver's own steps, used by ``auth.exchange`` to carry out a Send or an Open.
@dataclass(frozen=True)
class Transmit:
    """Put ``send`` on the wire with these headers (transport failures retried where safe:
    ``retry_delay``). Result: the response, body unread."""

    send: Send
    headers: dict[str, str]


@dataclass(frozen=True)
class ReadAll:
    """Read a transmitted response's whole body and close it."""

    response: httpx.Response


@dataclass(frozen=True)
class Renew:
    """Renew the session's tokens under the driver's lock (``Session.renew``)."""

    seen_generation: int


Step = Send | Open | Read | Close | Sleep | Transmit | ReadAll | Renew
Plan = Generator[Step, Any, T]

# Safe to send again after the connection broke mid-exchange (the request may have arrived).
_IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
# Failures that happen before the request leaves: any method may be sent again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
RETRY_DELAYS = (0.5, 1.5, 3.0)


def retry_delay(method: str, exc: httpx.TransportError, attempt: int) -> float | None:
    """Seconds to wait before sending again after ``exc``, or None to give up.

    POSTs are sent again only when they never left (an upload that reached the server and
    lost its answer would otherwise become two jobs); reads are retried on any transport
    failure.
    """
    if attempt >= len(RETRY_DELAYS):
        return None
    if isinstance(exc, _NOT_SENT) or method.upper() in _IDEMPOTENT:
        return RETRY_DELAYS[attempt]
    return None


def describe(exc: httpx.TransportError) -> str:
    url = ""
    with contextlib.suppress(RuntimeError):
        url = f" ({exc.request.method} {exc.request.url})"
    return f"{type(exc).__name__}: {exc or 'connection failed'}{url}"
