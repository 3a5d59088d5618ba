"""A stand-in for ``GET /api/videos/{id}/events`` in front of the real service.

The service does not stream events yet (a later change adds the route, with the contract
the SDK follows: ``data:`` JSON lines carrying the video's status, ``frames_processed``,
``frame_count``, ``processing_fps`` and ``eta_seconds``, an ``id:`` per event, and a final
``completed`` or ``error`` event). Until then this relay serves that contract from the real
video document, read through the real API, and passes every other request through; its first
stream per video ends after one event so the client must reconnect with ``Last-Event-ID``.
Replace it with the real route once that exists.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.embedded import free_port

EVENT_FIELDS = ("status", "frames_processed", "frame_count", "processing_fps", "eta_seconds")


class Relay:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.streams: list[dict[str, str | None]] = []  # per connection: video, Last-Event-ID
        self.app = Starlette(routes=[
            Route("/api/videos/{video_id}/events", self._events),
            Route("/{path:path}", self._pass, methods=["GET", "POST", "DELETE", "PUT"]),
        ])

    async def _pass(self, request: Request) -> Response:
        async with httpx.AsyncClient(base_url=self.upstream, timeout=300) as http:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            answer = await http.request(request.method, request.url.path,
                                        params=request.query_params, headers=headers,
                                        content=await request.body())
        drop = {"content-length", "content-encoding", "transfer-encoding"}
        return Response(answer.content, answer.status_code,
                        {k: v for k, v in answer.headers.items() if k.lower() not in drop})

    async def _events(self, request: Request) -> Response:
        video_id = request.path_params["video_id"]
        resumed = request.headers.get("last-event-id")
        first = not any(s["video"] == video_id for s in self.streams)
        self.streams.append({"video": video_id, "last_event_id": resumed})
        auth = {"Authorization": request.headers.get("authorization", "")}
        async with httpx.AsyncClient(base_url=self.upstream, timeout=30) as http:
            probe = await http.get(f"/api/videos/{video_id}",
                                   params={"include_base64": "false"}, headers=auth)
        if probe.status_code != 200:
            return Response(probe.content, probe.status_code,
                            media_type="application/json")
        return StreamingResponse(self._stream(video_id, auth, int(resumed or 0), first),
                                 media_type="text/event-stream")

    async def _stream(self, video_id: str, auth: dict[str, str], last: int,
                      stop_after_one: bool) -> AsyncIterator[str]:
        seen: dict[str, Any] | None = None
        yield ": connected\n\n"
        async with httpx.AsyncClient(base_url=self.upstream, timeout=30) as http:
            while True:
                answer = await http.get(f"/api/videos/{video_id}",
                                        params={"include_base64": "false"}, headers=auth)
                video = answer.json()["video"]
                fields = {name: video.get(name) for name in EVENT_FIELDS}
                if fields != seen:
                    seen, last = fields, last + 1
                    final = fields["status"] in ("completed", "error")
                    kind = fields["status"] if final else "progress"
                    yield f"id: {last}\nevent: {kind}\ndata: {json.dumps(fields)}\n\n"
                    if final or stop_after_one:
                        return
                await asyncio.sleep(0.1)


@contextmanager
def events_relay(upstream: str) -> Iterator[tuple[str, Relay]]:
    relay = Relay(upstream)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(relay.app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "relay did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", relay
    finally:
        server.should_exit = True
        thread.join(timeout=10)
