"""Serve the API with uvicorn inside an already running event loop."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn
from fastapi import FastAPI

from common.settings import Settings


async def serve_until(app: FastAPI, settings: Settings, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set or uvicorn itself exits (it also stops on SIGINT/SIGTERM)."""
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        # uvicorn's loggers write through the process's root handler (common.logs), so its
        # lines follow LOG_FORMAT like every other.
        log_config=None,
        lifespan="off",
        # Big base64 bodies are normal here; the body-size middleware enforces the real cap.
        h11_max_incomplete_event_size=1024 * 1024,
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(), name="uvicorn")
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    # Event streams never end on their own while a job runs; ending them now lets the
    # graceful shutdown finish (their clients reconnect to another replica).
    app.state.events.close()
    server.should_exit = True
    await serving
    if not server.started and not stop.is_set():
        raise SystemExit(f"the API could not listen on {settings.api_host}:{settings.api_port}")
    stopping.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stopping
