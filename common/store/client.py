"""The database handle every service shares: one ``AsyncMongoClient``, its collections, blobs.

The same code runs against MongoDB (docker compose) and SecantusDB (embedded run, tests), so
nothing here uses a feature only one of them has. Every write is acknowledged only once it is
journaled on a majority (``DURABLE_WRITES``), unless the URL says otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import pymongo
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
)
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from common.errors import ConfigError, ServiceUnavailable
from common.store.blob_port import BlobStore
from common.store.blobs import GridFSBlobStore
from common.store.indexes import ensure_indexes
from common.store.s3_layout import S3Location
from common.urls import redact_url

log = logging.getLogger(__name__)

Doc = dict[str, Any]

_AUTH_FAILED = 18  # MongoDB's AuthenticationFailed: retrying cannot help.


def request_timeouts(seconds: float) -> dict[str, int]:
    """Driver options that bound every wait of one operation for a process serving requests.

    Without them a paused server (or a network that drops packets) holds a request for as
    long as the TCP connection lives, and a stopped one for the 30 s of server selection; with
    them each operation gives up after ``seconds`` (``MONGO_TIMEOUT_SECONDS``) and the API
    answers 503. Workers keep the driver's patience: the runner's deadline bounds them, and an
    operation that outlives a short pause needs no retry.
    """
    ms = int(seconds * 1000)
    return {"serverSelectionTimeoutMS": ms, "connectTimeoutMS": ms, "socketTimeoutMS": ms,
            "waitQueueTimeoutMS": ms}


# What "acknowledged" means here: on a majority of the replica set, in its journal. At their
# default write concern MongoDB and SecantusDB answer before the journal reaches the disk, so
# a registration, a login session or an accepted job the user was just told about could
# vanish in a crash of the database (SecantusDB killed right after a few writes lost them in
# every run of tests/common/store/test_client.py without this). A standalone server takes
# "majority" as itself.
DURABLE_WRITES: dict[str, Any] = {"w": "majority", "journal": True}


def durable_writes(url: str) -> dict[str, Any]:
    """DURABLE_WRITES, less what the URL itself sets (``?w=``, ``?journal=``: the operator's),
    and ``directConnection`` for a URL naming one host and no replica set: compose's
    single-node set knows itself as 127.0.0.1, which a client elsewhere must not look for."""
    parts = urlsplit(url)
    given = {key.lower() for key in parse_qs(parts.query)}
    options = {key: value for key, value in DURABLE_WRITES.items() if key.lower() not in given}
    one_host = parts.scheme == "mongodb" and "," not in parts.netloc.rpartition("@")[2]
    if one_host and not given & {"replicaset", "directconnection", "loadbalanced"}:
        options["directConnection"] = True
    return options


class Store:
    """Collections of one database plus its blobs (GridFS in it, or S3-compatible object
    storage at ``blobs_at``). Build it with ``Store.connect``."""

    def __init__(self, client: AsyncMongoClient[Doc], db_name: str, url: str,
                 blobs_at: S3Location | None = None) -> None:
        self.client = client
        self.db: AsyncDatabase[Doc] = client[db_name]
        self.url = redact_url(url)
        self.blobs: BlobStore
        if blobs_at is None:
            self.blobs = GridFSBlobStore(self.db)
        else:
            # Imported here: boto3 loads only in processes configured for object storage.
            from common.store.s3_blobs import S3BlobStore
            self.blobs = S3BlobStore(self.db, blobs_at)

    @classmethod
    async def connect(
        cls,
        url: str,
        db_name: str,
        *,
        retry_seconds: float = 30.0,
        ping_timeout: float = 5.0,
        blobs_at: S3Location | None = None,
        **client_options: Any,
    ) -> Self:
        """Connect and wait until the server answers, retrying with backoff.

        At start-up the database often comes up beside us (docker compose, the embedded
        SecantusDB), so a refused connection is retried for ``retry_seconds`` before giving up
        with ``ServiceUnavailable``. Bad URLs and rejected credentials fail at once.
        """
        safe = redact_url(url)
        options: dict[str, Any] = {"tz_aware": True, "appname": "image-enhancer"}
        options.update(durable_writes(url))
        options.update(client_options)
        try:
            client: AsyncMongoClient[Doc] = AsyncMongoClient(url, **options)
        except (ConfigurationError, ValueError) as exc:
            raise ConfigError(f"invalid MongoDB URL {safe}: {exc}") from None
        store = cls(client, db_name, url, blobs_at)
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_delay(retry_seconds),
                wait=wait_exponential(multiplier=0.25, max=5.0),
                retry=retry_if_exception_type((ConnectionFailure, ExecutionTimeout)),
                before_sleep=before_sleep_log(log, logging.WARNING),
                reraise=True,
            ):
                # pymongo.timeout bounds server selection too, so each try is short and the
                # retry loop, not the driver's 30 s default, sets the total wait.
                with attempt, pymongo.timeout(ping_timeout):
                    await store.db.command("ping")
        except (ConnectionFailure, ExecutionTimeout) as exc:
            await client.close()
            raise ServiceUnavailable(
                f"MongoDB at {safe} is unreachable after {retry_seconds:g}s of retries: "
                f"{_first_line(exc)}"
            ) from None
        except OperationFailure as exc:
            await client.close()
            if exc.code == _AUTH_FAILED:
                raise ConfigError(
                    f"MongoDB at {safe} rejected the credentials (MONGO_USER/MONGO_PASSWORD)"
                ) from None
            raise ServiceUnavailable(f"MongoDB at {safe} refused ping: {exc}") from None
        except BaseException:
            await client.close()
            raise
        return store

    async def ping(self, seconds: float = 2.0) -> bool:
        """Whether the server answers within ``seconds`` (health checks); never raises."""
        try:
            with pymongo.timeout(seconds):
                await self.db.command("ping")
            return True
        except PyMongoError:
            return False

    async def close(self, seconds: float = 5.0) -> None:
        """Close the client. With the server gone, pymongo's close can wait ~30 s on its
        monitors; a shutdown must not hang on a dead database, so the wait is bounded."""
        try:
            await asyncio.wait_for(self.client.close(), seconds)
        except TimeoutError:
            log.warning("MongoDB client close timed out after %gs (server unreachable)", seconds)

    async def ensure_indexes(self) -> None:
        """Create every index the services rely on (idempotent; run at start-up)."""
        await ensure_indexes(self.db)
        await self.blobs.ensure_indexes()

    async def drop_database(self) -> None:
        """Tests only: remove this store's whole database."""
        await self.client.drop_database(self.db.name)

    # One property per collection so a typo is an AttributeError, not a new collection.
    @property
    def users(self) -> AsyncCollection[Doc]:
        return self.db["users"]

    @property
    def refresh_tokens(self) -> AsyncCollection[Doc]:
        return self.db["refresh_tokens"]

    @property
    def revoked_tokens(self) -> AsyncCollection[Doc]:
        return self.db["revoked_tokens"]

    @property
    def rate_limits(self) -> AsyncCollection[Doc]:
        return self.db["rate_limits"]

    @property
    def images(self) -> AsyncCollection[Doc]:
        return self.db["images"]

    @property
    def videos(self) -> AsyncCollection[Doc]:
        return self.db["videos"]

    @property
    def chunks(self) -> AsyncCollection[Doc]:
        return self.db["chunks"]

    @property
    def webhook_deliveries(self) -> AsyncCollection[Doc]:
        return self.db["webhook_deliveries"]

    @property
    def job_slots(self) -> AsyncCollection[Doc]:
        return self.db["job_slots"]


def _first_line(exc: BaseException) -> str:
    # Server-selection errors append a long topology description; the first line says it all.
    return str(exc).split(", Timeout:", 1)[0].splitlines()[0]
