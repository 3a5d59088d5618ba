"""The event stream of one job: the contract the SDK and the CLI follow.

Each event is a snapshot of the job as ``GET /api/{images|videos}/{id}`` shows it without the
base64 fields: ``event: progress`` while it runs, then one ``event: completed`` or ``event:
error`` (an image ``failed``, a video ``error``, or the job deleted) and the stream closes.
``id:`` is the job's last update time in milliseconds; a client that reconnects with
``Last-Event-ID`` gets no event until the job changes after that (the final event is always
sent). A new event is sent when anything shown changes but ``processing_fps`` and
``eta_seconds``, which are recomputed for each event; a comment every 15 s keeps proxies
from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bson import ObjectId

from common.contracts import JobKind
from common.jobs import fields as F
from common.jobs.status import FINAL
from common.jobs.views import job_summary
from common.store.ids import utcnow
from ingress.events.watcher import JobWatcher

KEEPALIVE_SECONDS = 15.0
RETRY_MS = 2000
PROGRESS, GONE = "progress", "error"
# Each final status's event: ``completed``, else ``error`` (an image's failed, a video's error).
FINAL_EVENTS = {status: "completed" if status == "completed" else "error"
                for status in sorted(FINAL)}
EVENTS = (PROGRESS, *dict.fromkeys(FINAL_EVENTS.values()))  # as /openapi.json lists them
_VOLATILE = ("processing_fps", "eta_seconds")


def event_id(doc: dict[str, Any]) -> int:
    updated = doc.get(F.UPDATED_AT) or doc.get(F.CREATED_AT)
    return int(updated.timestamp() * 1000) if isinstance(updated, datetime) else 0


def format_event(name: str, data: dict[str, Any], ident: int | None = None) -> str:
    head = f"id: {ident}\n" if ident is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _shown(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in _VOLATILE}


async def job_events(watcher: JobWatcher, kind: JobKind, job_id: ObjectId,
                     first: dict[str, Any], last_event_id: str | None, not_found: str,
                     closing: asyncio.Event) -> AsyncIterator[str]:
    """The stream's text, from ``first`` (the job as the route loaded it) on, until the job
    ends, is deleted, or the server is ``closing`` (clients reconnect elsewhere)."""
    seen = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
    loop = asyncio.get_running_loop()
    yield f"retry: {RETRY_MS}\n\n"
    quiet_since = loop.time()
    async with watcher.subscribe(job_id) as subscription:
        doc: dict[str, Any] | None = first
        sent: dict[str, Any] | None = None
        while True:
            if doc is None:
                yield format_event(GONE, {"error": not_found})
                return
            view = job_summary(kind, doc, utcnow())
            final = FINAL_EVENTS.get(doc[F.STATUS])
            fresh = seen is None or event_id(doc) > seen
            if final is not None or (fresh and _shown(view) != sent):
                yield format_event(final or PROGRESS, view, event_id(doc))
                sent, quiet_since = _shown(view), loop.time()
                if final is not None:
                    return
            elif loop.time() - quiet_since >= KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                quiet_since = loop.time()
            read = await _next(subscription.next(), closing)
            if read is _CLOSING:
                return
            if read is not _IDLE:  # idle: no poll answered for a while; the job is as it was
                doc = read


_CLOSING: Any = object()
_IDLE: Any = object()


async def _next(read: Any, closing: asyncio.Event) -> Any:
    """The next read of the job, ``_IDLE`` after KEEPALIVE_SECONDS, ``_CLOSING`` on close."""
    reading = asyncio.ensure_future(read)
    stopping = asyncio.ensure_future(closing.wait())
    try:
        done, _ = await asyncio.wait({reading, stopping}, timeout=KEEPALIVE_SECONDS,
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reading, stopping):
            task.cancel()
    if stopping in done:
        return _CLOSING
    if reading in done:
        return reading.result()
    return _IDLE
