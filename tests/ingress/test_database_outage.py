"""The API while its database is paused (SIGSTOP) or killed: every route answers 503 with the
manual's error body and ``Retry-After`` within a few seconds, ``/api/health`` says
``degraded``, and everything recovers by itself once the database is back.

A SecantusDB server of the test's own, so pausing and killing it touches nothing else.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from common.bus import MemoryBus
from common.runtime import Runtime
from common.store import SecantusServer, Store
from common.store.client import request_timeouts
from common.store.secantus import free_port
from ingress.app import create_app
from tests.ingress.conftest import SECRET, make_settings
from tests.ingress.image_files import ENHANCE, picture

TIMEOUT = 1.0
# A request may meet the timeout twice (a pooled connection's read, then a new connection).
ANSWER_WITHIN = 2 * TIMEOUT + 2.5
PASSWORD = "mipassword123"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SecantusServer]:
    db = SecantusServer(tmp_path / "db", port=free_port())
    db.start_sync()
    try:
        yield db
    finally:
        if db.pid is not None:
            os.kill(db.pid, signal.SIGCONT)  # a failed test must not leave it stopped
        db.stop_sync()


@pytest.fixture
async def client(server: SecantusServer) -> AsyncIterator[httpx.AsyncClient]:
    store = await Store.connect(server.url, f"outage_{uuid.uuid4().hex[:8]}", retry_seconds=10,
                                **request_timeouts(TIMEOUT))
    bus = MemoryBus(delivery_limit=3)
    await bus.start()
    await store.ensure_indexes()
    runtime = Runtime(settings=make_settings(mongo_timeout_seconds=TIMEOUT), store=store,
                      bus=bus, embedded=False)
    transport = httpx.ASGITransport(app=create_app(runtime, jwt_secret=SECRET))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     timeout=60) as http:
            yield http
    finally:
        await bus.close()
        await store.close()


async def _sign_up(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    name = f"u{uuid.uuid4().hex[:10]}"
    email = f"{name}@ejemplo.com"
    registered = await client.post("/api/auth/register",
                                   json={"username": name, "email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return email, {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}


async def _every_route_answers_503(client: httpx.AsyncClient, email: str,
                                   headers: dict[str, str]) -> None:
    calls = {
        "GET video": client.get("/api/videos/65f0c0ffee0123456789abcd", headers=headers),
        "GET videos": client.get("/api/videos", headers=headers),
        "GET images": client.get("/api/images", headers=headers),
        "POST image": client.post(ENHANCE, headers=headers,
                                  files={"file": ("a.png", picture(8, 8), "image/png")}),
        "login": client.post("/api/auth/login", json={"email": email, "password": PASSWORD}),
        "me": client.get("/api/auth/me", headers=headers),
    }
    for what, call in calls.items():
        started = time.monotonic()
        answer = await call
        took = time.monotonic() - started
        assert answer.status_code == 503, f"{what}: {answer.status_code} {answer.text}"
        assert answer.json() == {
            "error": "Base de datos no disponible temporalmente, inténtelo de nuevo"}, what
        assert answer.headers["Retry-After"] == "5", what
        assert took < ANSWER_WITHIN, f"{what} took {took:.1f} s"
    started = time.monotonic()
    health = await client.get("/api/health")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert health.json()["services"]["mongodb"] == "unavailable"
    assert time.monotonic() - started < ANSWER_WITHIN


async def _recovered(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while (await client.get("/api/health")).status_code != 200:
        assert time.monotonic() < deadline, "the API did not recover"
        await asyncio.sleep(0.2)
    assert (await client.get("/api/videos", headers=headers)).status_code == 200
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200


@pytest.mark.timeout(120)
async def test_a_paused_database_gets_prompt_503s_and_then_recovers(
    server: SecantusServer, client: httpx.AsyncClient
) -> None:
    email, headers = await _sign_up(client)
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        await _every_route_answers_503(client, email, headers)
    finally:
        os.kill(server.pid, signal.SIGCONT)
    await _recovered(client, headers)


@pytest.mark.timeout(120)
async def test_a_killed_database_gets_prompt_503s_and_a_restart_recovers(
    server: SecantusServer, client: httpx.AsyncClient
) -> None:
    # Killed right after the sign-up, with no flush: the session the API acknowledged must
    # survive on the connection settings the API itself uses.
    email, headers = await _sign_up(client)
    server.kill()
    await _every_route_answers_503(client, email, headers)
    server.start_sync()  # same port, same files
    await _recovered(client, headers)
