"""Store connection, indexes and the server features they rely on, against a real server."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest
from pymongo.errors import DuplicateKeyError

from common.errors import ConfigError, ServiceUnavailable
from common.store import INDEXES, SecantusServer, Store, email_key, redact_url, utcnow
from common.store.client import durable_writes
from common.store.secantus import free_port


async def _index_info(store: Store, collection: str) -> dict[str, dict]:
    return await store.db[collection].index_information()


async def test_every_declared_index_exists_with_its_options(store: Store) -> None:
    for collection, models in INDEXES.items():
        info = await _index_info(store, collection)
        for model in models:
            doc = model.document
            assert doc["name"] in info, (collection, doc["name"])
            found = info[doc["name"]]
            assert found["key"] == list(doc["key"].items())
            assert found.get("unique", False) == doc.get("unique", False)
            assert found.get("expireAfterSeconds") == doc.get("expireAfterSeconds")


async def test_refresh_token_ttl_index(store: Store) -> None:
    info = await _index_info(store, "refresh_tokens")
    assert info["expires_at_ttl"]["key"] == [("expires_at", 1)]
    assert info["expires_at_ttl"]["expireAfterSeconds"] == 0


async def test_ensure_indexes_is_idempotent(store: Store) -> None:
    before = {c: await _index_info(store, c) for c in INDEXES}
    await store.ensure_indexes()
    assert {c: await _index_info(store, c) for c in INDEXES} == before


async def test_unique_username(store: Store) -> None:
    await store.users.insert_one({"username": "ana", "email_lower": email_key("a@x.io")})
    with pytest.raises(DuplicateKeyError):
        await store.users.insert_one({"username": "ana", "email_lower": email_key("b@x.io")})


async def test_unique_email_is_case_insensitive(store: Store) -> None:
    await store.users.insert_one(
        {"username": "ana", "email": "Ana@Example.COM", "email_lower": email_key("Ana@Example.COM")}
    )
    with pytest.raises(DuplicateKeyError):
        await store.users.insert_one(
            {
                "username": "bob",
                "email": "ana@example.com",
                "email_lower": email_key("ana@example.com"),
            }
        )
    found = await store.users.find_one({"email_lower": email_key("ANA@EXAMPLE.com")})
    assert found is not None and found["username"] == "ana"


async def test_unique_refresh_token_hash(store: Store) -> None:
    doc = {"token_hash": "h1", "family_id": "f", "user_id": "u", "expires_at": utcnow()}
    await store.refresh_tokens.insert_one(dict(doc))
    with pytest.raises(DuplicateKeyError):
        await store.refresh_tokens.insert_one(dict(doc))


async def test_unique_chunk_per_video_and_index(store: Store) -> None:
    await store.chunks.insert_one({"video_id": "v1", "index": 0})
    await store.chunks.insert_one({"video_id": "v1", "index": 1})
    await store.chunks.insert_one({"video_id": "v2", "index": 0})
    with pytest.raises(DuplicateKeyError):
        await store.chunks.insert_one({"video_id": "v1", "index": 1})


async def test_datetimes_round_trip_as_utc(store: Store) -> None:
    now = utcnow()
    await store.images.insert_one({"_id": 1, "created_at": now})
    doc = await store.images.find_one({"_id": 1})
    assert doc is not None and doc["created_at"] == now
    assert doc["created_at"].utcoffset() == timedelta(0)


async def test_listing_by_user_newest_first(store: Store) -> None:
    t0 = utcnow()
    docs = [
        {"user_id": "u", "status": "done", "created_at": t0 + timedelta(seconds=i)}
        for i in range(5)
    ]
    await store.videos.insert_many(
        [*docs, {"user_id": "other", "status": "done", "created_at": t0}]
    )
    cursor = store.videos.find({"user_id": "u"}).sort("created_at", -1)
    listed = [d["created_at"] async for d in cursor]
    assert listed == sorted((d["created_at"] for d in docs), reverse=True)
    assert await store.videos.count_documents({"user_id": "u", "status": "done"}) == 5


async def test_ping(store: Store) -> None:
    assert await store.ping() is True


# pymongo 4.20 leaks the socket of a monitor connect that client.close() cancels (upstream
# PYTHON-5867): with nothing listening, close() nearly always lands on one. Only a warning.
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
async def test_unreachable_url_gives_clear_service_unavailable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    url = f"mongodb://alice:s3cret@127.0.0.1:{port}/?authSource=admin"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(ServiceUnavailable) as info:
        await Store.connect(url, "x", retry_seconds=1.5, ping_timeout=0.3)
    elapsed = time.monotonic() - started
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "alice:***@" in message
    assert "s3cret" not in message
    assert 1.4 < elapsed < 10
    assert any("Retrying" in r.message for r in caplog.records)  # it did retry with backoff
    del info  # its __context__ chain reaches the closed client and that socket
    await asyncio.sleep(0.1)  # let the cancelled monitor task finish...
    gc.collect()  # ...and collect the socket while the filter above applies


async def test_malformed_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid MongoDB URL"):
        await Store.connect("mongodb://bob:pw@host:notaport/", "x", retry_seconds=0.1)


def test_redact_url() -> None:
    assert redact_url("mongodb://u:p%40ss@h:27017/db?x=1") == "mongodb://u:***@h:27017/db?x=1"
    assert redact_url("mongodb://h1:1,h2:2/") == "mongodb://h1:1,h2:2/"


async def test_what_was_acknowledged_survives_a_killed_database(tmp_path: Path) -> None:
    # The connection settings every service uses (Store.connect's own), no extra flag or
    # flush: each write a caller saw acknowledged is there after a SIGKILL and a restart.
    server = SecantusServer(tmp_path / "db", port=free_port())
    server.start_sync()
    try:
        store = await Store.connect(server.url, "app", retry_seconds=5)
        for n in range(8):
            await store.users.insert_one({"_id": n})
        await store.images.update_one({"_id": "job"}, {"$set": {"status": "pending"}},
                                      upsert=True)
        server.kill()
        await store.close(seconds=1)
        server.start_sync()  # same port, same files
        again = await Store.connect(server.url, "app", retry_seconds=10)
        try:
            assert await again.users.count_documents({}) == 8
            assert await again.images.find_one({"_id": "job"}) == {"_id": "job",
                                                                    "status": "pending"}
        finally:
            await again.close()
    finally:
        server.stop_sync()


def test_the_urls_own_settings_win() -> None:
    durable = {"w": "majority", "journal": True}
    assert durable_writes("mongodb://u:p@h:27017/") == {**durable, "directConnection": True}
    assert durable_writes("mongodb://h/?w=1") == {"journal": True, "directConnection": True}
    assert durable_writes("mongodb://h/?journal=false&W=2") == {"directConnection": True}
    # A replica set the URL names is found through its members, as the operator set it up.
    assert durable_writes("mongodb://h1,h2/") == durable
    assert durable_writes("mongodb://h/?replicaSet=rs1") == durable
    assert durable_writes("mongodb+srv://cluster.example.com/") == durable
