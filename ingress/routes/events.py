"""Progress events: ``GET /api/images/{id}/events`` and ``GET /api/videos/{id}/events``.

Server-Sent Events (``ingress/events/stream.py`` has the contract), served by any API
replica from the job document (``ingress/events/watcher.py``). Authentication is the usual
Bearer header, or a ``ticket`` query parameter for browsers (``ingress/events/tickets.py``).
Another user's job, a missing one and a malformed id answer the routes' usual 404 before the
stream starts. The document declares both ways in (``bearerAuth`` or ``eventTicket``: either
one opens the stream) and describes each event (``responses.event_stream``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from bson import ObjectId
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from fastapi.security import APIKeyQuery
from pydantic import BaseModel

from common.contracts import JobKind
from common.errors import AuthError, NotFound
from common.runtime import Runtime
from common.store.jobs import get_owned
from ingress.auth.current import (
    AuthUser,
    CurrentUser,
    DeclaredBearer,
    SessionsDep,
    current_user,
)
from ingress.auth.sessions import Sessions
from ingress.auth.tokens import INVALID_TOKEN, TokenIssuer
from ingress.auth.users import active_user
from ingress.deps import RuntimeDep, TokenIssuerDep
from ingress.events.stream import EVENTS, GONE, job_events
from ingress.events.tickets import TICKET_SECONDS, Ticket, issue_ticket, verify_ticket
from ingress.events.watcher import JobWatcher
from ingress.images.jobs import NOT_FOUND as IMAGE_NOT_FOUND
from ingress.openapi import schemas as S
from ingress.openapi.responses import error_answers, event_stream
from ingress.videos.jobs import NOT_FOUND as VIDEO_NOT_FOUND

router = APIRouter(tags=["events"])

_NOT_FOUND = {"image": IMAGE_NOT_FOUND, "video": VIDEO_NOT_FOUND}
_STREAM_DESCRIPTION = (
    "text/event-stream: `event: progress` while the job runs (data: the job object without "
    "base64 fields), then `event: completed` or `event: error` and the stream ends; `id:` is "
    "the job's last update in ms, to resume with the Last-Event-ID header")


def _stream_doc(job: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {200: event_stream(job, EVENTS, GONE, description=_STREAM_DESCRIPTION),
            **error_answers(401, 404, 503)}


# Declares the second way in (EventSource sends no headers); ``verify_ticket`` checks it.
TICKET = APIKeyQuery(name="ticket", scheme_name="eventTicket", auto_error=False,
                     description="Un ticket de POST .../events/ticket: abre solo el stream de "
                     "ese trabajo, en lugar de Authorization: Bearer")
TicketParam = Annotated[str | None, Depends(TICKET)]


class EventTicket(BaseModel):
    ticket: str
    expires_in: int


class EventStreams:
    """The API process's watchers (one per collection) and the switch that ends every stream
    when the server stops."""

    def __init__(self, images: JobWatcher, videos: JobWatcher) -> None:
        self.watchers = {"image": images, "video": videos}
        self.closing = asyncio.Event()

    def close(self) -> None:
        self.closing.set()

    def poke(self, kind: str, job_id: str) -> None:
        if (watcher := self.watchers.get(kind)) is not None:
            watcher.poke(job_id)


async def _stream(request: Request, runtime: Runtime, sessions: Sessions, issuer: TokenIssuer,
                  kind: JobKind, job_id: str, ticket: str | None) -> StreamingResponse:
    if ticket:
        granted = verify_ticket(issuer, ticket, kind, job_id)
        user = await active_user(runtime.store, granted.user_id)
        if user is None or await sessions.ended(granted.session_id, granted.access_jti):
            raise AuthError(INVALID_TOKEN)
        owner = user["_id"]
    else:
        owner = (await current_user(request, sessions, None)).id
    jobs = runtime.store.images if kind == "image" else runtime.store.videos
    doc = await get_owned(jobs, job_id, owner)
    if doc is None:
        raise NotFound(_NOT_FOUND[kind])
    streams: EventStreams = request.app.state.events
    await request.app.state.finished.listening()  # the job's end comes as a notice (or a poll)
    body = job_events(streams.watchers[kind], kind, ObjectId(job_id), doc,
                      request.headers.get("last-event-id"), _NOT_FOUND[kind], streams.closing)
    return StreamingResponse(body, media_type="text/event-stream", headers={
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _ticket(runtime: Runtime, issuer: TokenIssuer, user: AuthUser, kind: JobKind,
                  job_id: str) -> EventTicket:
    jobs = runtime.store.images if kind == "image" else runtime.store.videos
    if await get_owned(jobs, job_id, user.id, {"_id": 1}) is None:
        raise NotFound(_NOT_FOUND[kind])
    token = issue_ticket(issuer, Ticket(str(user.id), kind, job_id, user.claims.session_id,
                                        user.claims.jti))
    return EventTicket(ticket=token, expires_in=TICKET_SECONDS)


@router.get("/api/images/{image_id}/events", response_class=StreamingResponse,
            responses=_stream_doc(S.ImageSummary))
async def image_events(image_id: str, request: Request, runtime: RuntimeDep,
                       sessions: SessionsDep, issuer: TokenIssuerDep, _: DeclaredBearer,
                       ticket: TicketParam) -> StreamingResponse:
    return await _stream(request, runtime, sessions, issuer, "image", image_id, ticket)


@router.get("/api/videos/{video_id}/events", response_class=StreamingResponse,
            responses=_stream_doc(S.VideoSummary))
async def video_events(video_id: str, request: Request, runtime: RuntimeDep,
                       sessions: SessionsDep, issuer: TokenIssuerDep, _: DeclaredBearer,
                       ticket: TicketParam) -> StreamingResponse:
    return await _stream(request, runtime, sessions, issuer, "video", video_id, ticket)


@router.post("/api/images/{image_id}/events/ticket", response_model=EventTicket,
             responses=error_answers(401, 404, 503))
async def image_events_ticket(image_id: str, user: CurrentUser, runtime: RuntimeDep,
                              issuer: TokenIssuerDep) -> EventTicket:
    return await _ticket(runtime, issuer, user, "image", image_id)


@router.post("/api/videos/{video_id}/events/ticket", response_model=EventTicket,
             responses=error_answers(401, 404, 503))
async def video_events_ticket(video_id: str, user: CurrentUser, runtime: RuntimeDep,
                              issuer: TokenIssuerDep) -> EventTicket:
    return await _ticket(runtime, issuer, user, "video", video_id)
