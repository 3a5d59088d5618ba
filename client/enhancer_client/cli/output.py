"""What the command line prints: tables and messages for people, JSON for scripts, and the
exit codes scripts rely on."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from enhancer_client.errors import (
    ApiError,
    AuthError,
    ConnectionFailed,
    EnhancerError,
    JobFailedError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)

OK = 0
JOB_FAILED = 1  # a job failed, or the service refused an input (400, 409, 413)
USAGE = 2  # bad arguments, files that cannot be read or written (argparse uses 2 as well)
AUTH = 3  # not logged in, credentials refused, or the session could not be renewed
UNAVAILABLE = 4  # the service could not be reached, failed (5xx) or asked to slow down (429)
NOT_FOUND = 5  # no such image or video
INTERRUPTED = 130  # Ctrl-C

EXIT_CODES_HELP = """exit codes:
  0  success
  1  a job failed, or the service refused an input (unsupported format, too large, ...)
  2  usage error (bad arguments, files that cannot be read or written)
  3  authentication: not logged in, wrong credentials, session expired
  4  service unavailable: network failure, server error (5xx), rate limited (429)
  5  not found: no such image or video
  130 interrupted (Ctrl-C)"""


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, AuthError):
        return AUTH
    if isinstance(exc, NotFoundError):
        return NOT_FOUND
    if isinstance(exc, ConnectionFailed | ServerError | RateLimitedError):
        return UNAVAILABLE
    if isinstance(exc, JobFailedError | ApiError):
        return JOB_FAILED
    return UNAVAILABLE


def error_text(exc: EnhancerError) -> str:
    if isinstance(exc, ApiError):
        text = f"{exc.message} (HTTP {exc.status})"
        if isinstance(exc, RateLimitedError) and exc.retry_after:
            text += f"; retry after {exc.retry_after:g} s"
        return text
    return str(exc)


def error_json(exc: EnhancerError) -> dict[str, Any]:
    return {"error": getattr(exc, "message", str(exc)), "status": getattr(exc, "status", None)}


def say(message: str) -> None:
    """A message for people (stderr, so stdout stays clean for data)."""
    print(message, file=sys.stderr, flush=True)


def emit_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2), flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def size(width: int | None, height: int | None) -> str:
    return f"{width}x{height}" if width and height else ""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
