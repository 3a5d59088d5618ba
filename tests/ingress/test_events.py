"""``GET /api/{images|videos}/{id}/events`` over real HTTP (uvicorn on a free port, the real
app on a real database), with the job documents moved the way the stages move them; every
event received is one ``/openapi.json`` describes for its route."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from bson import ObjectId
from jsonschema import Draft202012Validator

from common.logs import configure
from common.runtime import Runtime
from common.settings import Settings
from common.store.ids import utcnow
from ingress.app import create_app
from ingress.server import serve_until
from tests.common.bus.support import eventually
from tests.embedded import free_port
from tests.ingress.conftest import SECRET, SignedUp, SignUp, make_settings
from tests.ingress.image_files import fail, picture, submitted_id
from tests.ingress.video_clips import make_clip


@pytest.fixture
def settings() -> Settings:
    return make_settings(image_wait_seconds=0, events_poll_seconds=0.05)


@pytest.fixture
async def served(runtime: Runtime) -> AsyncIterator[tuple[str, Any]]:
    """The app behind a real uvicorn server in this loop; (its URL, the app)."""
    app = create_app(runtime, jwt_secret=SECRET)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        app.state.events.close()
        server.should_exit = True
        await task


Event = tuple[str, str | None, dict[str, Any]]


async def read_events(response: httpx.Response, into: list[Event]) -> None:
    """Parse the stream into (event, id, data) until it closes."""
    name, ident, data = "message", None, ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and data:
            into.append((name, ident, json.loads(data)))
            name, ident, data = "message", None, ""


def check_documented(document: dict[str, Any], route: str, events: list[Event]) -> None:
    """Each event matches one shape the route's ``text/event-stream`` schema gives: its SSE
    fields, and its data against that shape's ``contentSchema``."""
    answer = document["paths"][route]["get"]["responses"]["200"]["content"]
    shapes = answer["text/event-stream"]["schema"]["anyOf"]

    def valid(schema: dict[str, Any], value: Any) -> bool:
        return Draft202012Validator({**schema, "components": document["components"]}
                                    ).is_valid(value)

    for name, ident, data in events:
        fields = {"event": name, "data": json.dumps(data), **({"id": ident} if ident else {})}
        assert any(valid(shape, fields)
                   and valid(shape["properties"]["data"]["contentSchema"], data)
                   for shape in shapes), (route, name, data)


async def new_video(client: httpx.AsyncClient, who: SignedUp) -> str:
    answer = await client.post("/api/videos/enhance", headers=who.headers, json={
        "video_base64": base64.b64encode(make_clip(frames=12)).decode(),
        "filename": "clip.mp4", "model_type": "anime_video", "scale": 2})
    assert answer.status_code == 202, answer.text
    video_id: str = answer.json()["video"]["id"]
    return video_id


async def move(runtime: Runtime, video_id: str, **fields: Any) -> None:
    await runtime.store.videos.update_one({"_id": ObjectId(video_id)},
                                          {"$set": {**fields, "updated_at": utcnow()}})


async def until(events: list[Event], count: int, within: float = 10) -> None:
    await eventually(lambda: len(events) >= count, within=within)


async def test_a_video_streams_its_progress_in_order_and_ends_completed(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime,
        served: tuple[str, Any]) -> None:
    url, _ = served
    video_id = await new_video(client, user)
    events: list[Event] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http, http.stream(
            "GET", f"/api/videos/{video_id}/events", headers=user.headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        reader = asyncio.create_task(read_events(response, events))
        await until(events, 1)
        await move(runtime, video_id, status="in_progress", started_at=utcnow())
        await until(events, 2)
        for frames in (4, 8, 12):
            await move(runtime, video_id, frames_processed=frames)
            await until(events, 2 + frames // 4)
        await move(runtime, video_id, status="completed", completed_at=utcnow(),
                   enhanced_width=128, enhanced_height=96)
        await asyncio.wait_for(reader, 10)  # the server closes the stream after the last one
    names = [e[0] for e in events]
    assert names == ["progress"] * 5 + ["completed"]
    assert [e[2]["status"] for e in events] == ["pending"] + ["in_progress"] * 4 + ["completed"]
    assert [e[2]["frames_processed"] for e in events] == [0, 0, 4, 8, 12, 12]
    ids = [int(e[1] or 0) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    running = events[3][2]
    assert running["frame_count"] == 12 and running["processing_fps"] > 0
    assert running["eta_seconds"] is not None
    final = (await client.get(f"/api/videos/{video_id}?include_base64=false",
                              headers=user.headers)).json()["video"]
    assert events[-1][2] == final, "the last event is the object GET shows"
    check_documented((await client.get("/openapi.json")).json(),
                     "/api/videos/{video_id}/events", events)


async def test_a_resumed_stream_sends_only_what_is_new(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime,
        served: tuple[str, Any]) -> None:
    url, _ = served
    video_id = await new_video(client, user)
    await move(runtime, video_id, status="in_progress", started_at=utcnow(), frames_processed=4)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        first: list[Event] = []
        async with http.stream("GET", f"/api/videos/{video_id}/events",
                               headers=user.headers) as response:
            reader = asyncio.create_task(read_events(response, first))
            await until(first, 1)
            reader.cancel()
        last_id = first[0][1]
        assert last_id is not None and first[0][2]["frames_processed"] == 4
        resumed: list[Event] = []
        headers = {**user.headers, "Last-Event-ID": last_id}
        async with http.stream("GET", f"/api/videos/{video_id}/events",
                               headers=headers) as response:
            reader = asyncio.create_task(read_events(response, resumed))
            await asyncio.sleep(0.5)
            assert resumed == [], "nothing changed since the client's last event"
            await move(runtime, video_id, frames_processed=8)
            await until(resumed, 1)
            await move(runtime, video_id, status="error", error_message="Error x")
            await asyncio.wait_for(reader, 10)
    assert [(e[0], e[2]["frames_processed"]) for e in resumed] == [("progress", 8),
                                                                    ("error", 8)]
    assert int(resumed[0][1] or 0) > int(last_id)


async def test_an_image_failure_and_a_deletion_end_the_stream_with_error(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime,
        served: tuple[str, Any]) -> None:
    url, _ = served
    failing = await submitted_id(client, user, picture(32, 32))
    deleted = await submitted_id(client, user, picture(32, 32))
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        got: dict[str, list[Event]] = {failing: [], deleted: []}
        async with http.stream("GET", f"/api/images/{failing}/events",
                               headers=user.headers) as one, \
                http.stream("GET", f"/api/images/{deleted}/events",
                            headers=user.headers) as two:
            readers = [asyncio.create_task(read_events(one, got[failing])),
                       asyncio.create_task(read_events(two, got[deleted]))]
            await until(got[failing], 1)
            await until(got[deleted], 1)
            await fail(runtime, failing, "sin memoria")
            assert (await client.delete(f"/api/images/{deleted}",
                                        headers=user.headers)).status_code == 200
            await asyncio.wait_for(asyncio.gather(*readers), 10)
    assert [(e[0], e[2]["status"]) for e in got[failing]] == [("progress", "pending"),
                                                              ("error", "failed")]
    assert got[failing][-1][2]["error_message"] == "Error procesando imagen: sin memoria"
    assert got[deleted][-1][0] == "error"
    assert got[deleted][-1][2] == {"error": "Imagen no encontrada"}
    document = (await client.get("/openapi.json")).json()
    for events in got.values():
        check_documented(document, "/api/images/{image_id}/events", events)
    with pytest.raises(AssertionError):  # the check can fail: an image without its fields
        check_documented(document, "/api/images/{image_id}/events",
                         [("progress", "1", {"id": failing, "status": "pending"})])


async def test_other_users_missing_ids_and_no_token(
        client: httpx.AsyncClient, user: SignedUp, sign_up: SignUp,
        served: tuple[str, Any]) -> None:
    url, _ = served
    video_id = await new_video(client, user)
    other = await sign_up()
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for path, who in ((f"/api/videos/{video_id}/events", other),
                          (f"/api/videos/{ObjectId()}/events", user),
                          ("/api/videos/no-es-un-id/events", user)):
            answer = await http.get(path, headers=who.headers)
            assert (answer.status_code, answer.json()) == (404, {"error": "Video no encontrado"})
        anonymous = await http.get(f"/api/videos/{video_id}/events")
        assert anonymous.status_code == 401
        assert anonymous.json() == {"error": "Token de autenticación requerido"}


async def test_a_ticket_opens_one_jobs_stream_without_a_header(
        client: httpx.AsyncClient, user: SignedUp, sign_up: SignUp, runtime: Runtime,
        served: tuple[str, Any]) -> None:
    url, _ = served
    video_id = await new_video(client, user)
    second = await new_video(client, user)
    issued = await client.post(f"/api/videos/{video_id}/events/ticket", headers=user.headers)
    assert issued.status_code == 200
    ticket = issued.json()["ticket"]
    assert issued.json()["expires_in"] == 300
    other = await sign_up()
    theirs = await client.post(f"/api/videos/{video_id}/events/ticket", headers=other.headers)
    assert theirs.status_code == 404
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for path in (f"/api/videos/{second}/events", f"/api/images/{video_id}/events"):
            refused = await http.get(path, params={"ticket": ticket})
            assert (refused.status_code, refused.json()) == (
                401, {"error": "Token inválido o expirado"})
        forged = await http.get(f"/api/videos/{video_id}/events",
                                params={"ticket": user.access_token})
        assert forged.status_code == 401, "an access token is not a ticket"
        events: list[Event] = []
        async with http.stream("GET", f"/api/videos/{video_id}/events",
                               params={"ticket": ticket}) as response:
            assert response.status_code == 200
            reader = asyncio.create_task(read_events(response, events))
            await until(events, 1)
            await move(runtime, video_id, status="completed", completed_at=utcnow())
            await asyncio.wait_for(reader, 10)
    assert [e[0] for e in events] == ["progress", "completed"]


async def test_closing_the_server_ends_open_streams(
        client: httpx.AsyncClient, user: SignedUp, served: tuple[str, Any]) -> None:
    url, app = served
    video_id = await new_video(client, user)
    events: list[Event] = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as http, http.stream(
            "GET", f"/api/videos/{video_id}/events", headers=user.headers) as response:
        reader = asyncio.create_task(read_events(response, events))
        await until(events, 1)
        app.state.events.close()
        await asyncio.wait_for(reader, 5)
    assert [e[0] for e in events] == ["progress"]


async def test_a_logout_ends_the_sessions_tickets(
        client: httpx.AsyncClient, user: SignedUp, served: tuple[str, Any]) -> None:
    url, _ = served
    video_id = await new_video(client, user)
    issued = await client.post(f"/api/videos/{video_id}/events/ticket", headers=user.headers)
    ticket = issued.json()["ticket"]
    out = await client.post("/api/auth/logout", headers=user.headers,
                            json={"refresh_token": user.refresh_token})
    assert out.status_code == 200, out.text
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        refused = await http.get(f"/api/videos/{video_id}/events", params={"ticket": ticket})
    assert (refused.status_code, refused.json()) == (401, {"error": "Token inválido o expirado"})


async def test_no_ticket_reaches_the_access_log(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The API's own serving path (ingress.server, uvicorn's access log through the process's
    # log handler at INFO), as `python -m ingress` runs it.
    video_id, other = await new_video(client, user), await new_video(client, user)
    ticket = (await client.post(f"/api/videos/{video_id}/events/ticket",
                                headers=user.headers)).json()["ticket"]
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    port = free_port()
    settings = runtime.settings.model_copy(update={"api_host": "127.0.0.1", "api_port": port,
                                                   "log_level": "INFO"})
    app, stop = create_app(runtime, jwt_secret=SECRET), asyncio.Event()
    configure("INFO")
    try:
        serving = asyncio.create_task(serve_until(app, settings, stop))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            async def answered() -> bool:
                try:
                    # Another job's stream: refused at once, but the request is logged.
                    got = await http.get(f"/api/videos/{other}/events?ticket={ticket}")
                except httpx.ConnectError:
                    return False
                return got.status_code == 401

            await eventually(answered)
        stop.set()
        await serving
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    # Wherever the line went (the root's handler on stderr, or the handler an earlier
    # uvicorn.Config in this process gave the access logger), it is redacted.
    written = capsys.readouterr()
    logged = written.out + written.err
    assert f"GET /api/videos/{other}/events?ticket=[oculto] HTTP/1.1" in logged
    assert ticket not in logged and ticket.split(".")[2] not in logged
