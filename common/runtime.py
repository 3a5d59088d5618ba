"""What a process needs to talk to the outside: settings, the database and the bus.

Nothing else: in particular not the API's token key, which only the API resolves
(``ingress/auth/secret.py``), so a worker on any host runs without it.

``open_runtime`` is the one place that decides between the embedded default (a SecantusDB
server spawned here, the durable bus stored in it) and the distributed mode (``MONGO_URL`` /
``AMQP_URL``); every entry point goes through it so they cannot drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from common.bus import DatabaseBus, create_bus
from common.bus.port import Bus
from common.settings import Settings
from common.store.client import Store, request_timeouts
from common.store.secantus import SecantusServer

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Runtime:
    settings: Settings
    store: Store
    bus: Bus
    # True when this one process hosts the API and every stage (``python main.py``).
    embedded: bool
    database_server: SecantusServer | None = None


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, embedded: bool, serves_requests: bool = False
) -> AsyncIterator[Runtime]:
    """Connect (spawning what the embedded run needs), yield, then close in reverse order.

    ``serves_requests``: the process answers HTTP, so every database operation is bounded by
    ``MONGO_TIMEOUT_SECONDS`` (an outage is a prompt 503, not a hung request).
    """
    async with AsyncExitStack() as stack:
        server: SecantusServer | None = None
        url = settings.resolved_mongo_url()
        if embedded and not settings.mongo_url:
            server = SecantusServer(settings.data_dir / "db", supervise=True)
            await server.start()
            stack.push_async_callback(server.stop)
            url = server.url
            log.info("embedded SecantusDB listening at %s", url)
        # SecantusDB acknowledges a write before it reaches disk; the supervisor restarts a
        # crashed server, so journaled writes are what keeps an acknowledged job.
        options: dict[str, Any] = {"journal": True} if server is not None else {}
        if serves_requests:
            options.update(request_timeouts(settings.mongo_timeout_seconds))
        store = await Store.connect(
            url, settings.mongo_db, retry_seconds=settings.startup_retry_seconds,
            blobs_at=settings.blob_location(), **options
        )
        stack.push_async_callback(store.close)
        await store.ensure_indexes()
        bus = create_bus(settings, store.db)
        await bus.start()
        stack.push_async_callback(bus.close)
        if server is not None and isinstance(bus, DatabaseBus):
            # This process spawned the database, so it is its only consumer: messages still
            # leased were held by a process that is gone (a crash): take them now, not when
            # their leases end.
            await bus.recover()
        yield Runtime(
            settings=settings,
            store=store,
            bus=bus,
            embedded=embedded,
            database_server=server,
        )
