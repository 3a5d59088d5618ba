"""Shared fixtures: a MongoDB-compatible server for the session, a fresh database per test.

``MONGO_URL`` set → tests run against that server (real MongoDB in CI / docker compose).
Unset → a SecantusDB child process in a temporary directory, started once per session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from common.errors import ServiceUnavailable
from common.settings import Settings
from common.store import SecantusServer, Store
from tests.s3_server import fresh_location, moto_server
from tests.services import unavailable


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("MONGO_URL", "").strip()
    if url:
        yield url
        return
    # Sync on purpose: each test has its own event loop, and this server outlives them all.
    server = SecantusServer(tmp_path_factory.mktemp("secantus") / "db")
    try:
        server.start_sync()
    except ServiceUnavailable as exc:
        print(exc)
        unavailable("MongoDB/SecantusDB")
    try:
        yield server.url
    finally:
        server.stop_sync()


@asynccontextmanager
async def fresh_store(mongo_url: str, **options: Any) -> AsyncIterator[Store]:
    """A ``Store`` on a database of its own (indexes created), dropped afterwards."""
    db = await Store.connect(mongo_url, f"test_{uuid.uuid4().hex[:16]}", retry_seconds=10,
                             **options)
    try:
        await db.ensure_indexes()
        yield db
    finally:
        await db.drop_database()
        await db.close()


@pytest.fixture
async def store(mongo_url: str) -> AsyncIterator[Store]:
    """Function-scoped: the ``AsyncMongoClient`` must live in the loop of the test using it."""
    async with fresh_store(mongo_url) as db:
        yield db


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-protocol server (moto's, a child process) for the session."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
async def s3_store(mongo_url: str, s3_endpoint: str) -> AsyncIterator[Store]:
    """Like ``store``, with its blobs in a fresh bucket of the S3 test server."""
    async with fresh_store(mongo_url, blobs_at=fresh_location(s3_endpoint)) as db:
        yield db


@pytest.fixture(params=["gridfs", "s3"])
def any_store(request: pytest.FixtureRequest) -> Store:
    """Each blob adapter in turn, for the contract tests both must pass."""
    fixture = "store" if request.param == "gridfs" else "s3_store"
    store: Store = request.getfixturevalue(fixture)
    return store


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Run from an empty folder with none of our variables set, so only the test's file counts."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
