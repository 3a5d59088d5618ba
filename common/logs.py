"""Log lines that say which job they are about, in text for people or JSON for collectors.

``LOG_FORMAT=json`` writes one JSON object per line (``ts``, ``level``, ``logger``,
``message``, the job context, ``exc`` with the traceback); the default is text, with the job
context appended as ``[job_id=… kind=… stage=… chunk=…]``. The context lives in a
``ContextVar``: the stage runner binds ``job_id``, ``kind``, ``stage`` and ``chunk`` around
each handler (``pipeline/runner.py``) and the API binds ``job_id`` and ``kind`` once it
creates a job, so handlers log as usual and every line about a job carries its id, in every
process: ``grep <job id>`` follows it through the API, decode, upscale, encode and webhooks.
A credential in a URL's query (``?ticket=``) is written as ``[oculto]``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

CONTEXT_FIELDS = ("job_id", "kind", "stage", "chunk")
_CONTEXT: ContextVar[dict[str, Any]] = ContextVar("log_context", default={})  # noqa: B039


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (None values ignored) to every log line written inside the block."""
    token = _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items()
                                               if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bind(**fields: Any) -> None:
    """Add ``fields`` for the rest of the current task (a request, a handler)."""
    _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}})


def current_context() -> dict[str, Any]:
    return dict(_CONTEXT.get())


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.job_context = _CONTEXT.get()
        return True


# Credentials that may travel in a URL's query (an EventSource ticket; the others are names
# clients put tokens under): their values never reach a log line, whoever writes the URL
# (uvicorn's access log writes each request's path and query).
_QUERY_CREDENTIAL = re.compile(
    r"([?&](?:ticket|token|access_token|refresh_token|api_key)=)[^&#\s\"']*", re.IGNORECASE)
REDACTED = "[oculto]"


def redact(text: str) -> str:
    return _QUERY_CREDENTIAL.sub(rf"\1{REDACTED}", text)


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # On the whole message: a URL may come as any object (httpx logs its URL type).
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: logging reports it at emit
            return True
        if (clean := redact(message)) != message:
            record.msg, record.args = clean, None
        return True


def protect_access_log() -> None:
    """Redact on uvicorn's access logger itself, so its lines are clean whatever handlers a
    deployment gives it (uvicorn's own logging config stops them reaching the root's)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactFilter) for f in access.filters):
        access.addFilter(_RedactFilter())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "job_context", {}),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        context = getattr(record, "job_context", {})
        if context:
            text += " [" + " ".join(f"{k}={context[k]}" for k in CONTEXT_FIELDS
                                    if k in context) + "]"
        return text


def configure(level: str, fmt: str = "text") -> None:
    """The root handler every logger of the process (uvicorn's too) writes through."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    handler.addFilter(_RedactFilter())
    protect_access_log()
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
