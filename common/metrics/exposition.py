"""Serving the metrics: the text format, the optional token, and a stage's own endpoint.

``METRICS_TOKEN`` set: a scrape must send ``Authorization: Bearer <token>`` (Prometheus'
``authorization`` / ``bearer_token`` settings), else 401. A stage process with
``METRICS_PORT`` set serves ``GET /metrics`` there (a minimal ASGI app on uvicorn).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from common.settings import Settings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
UNAUTHORIZED = "Token de métricas requerido"


def authorized(token: str, header: str | None) -> bool:
    """Whether a scrape may read the metrics (always, when no token is configured)."""
    if not token:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def render() -> bytes:
    return generate_latest(REGISTRY)


def metrics_app(token: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        if scope["path"] != "/metrics":
            status, kind = 404, "application/json"
            body = json.dumps({"error": "No encontrado"}).encode()
        elif not authorized(token, headers.get("authorization")):
            status, kind = 401, "application/json"
            body = json.dumps({"error": UNAUTHORIZED}, ensure_ascii=False).encode()
        else:
            status, body, kind = 200, render(), CONTENT_TYPE_LATEST
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", kind.encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


@contextlib.asynccontextmanager
async def stage_metrics(settings: Settings) -> Any:
    """Serve this process's metrics on ``METRICS_PORT`` while the block runs (none at 0)."""
    if not settings.metrics_port:
        yield None
        return
    server = uvicorn.Server(uvicorn.Config(
        metrics_app(settings.metrics_token), host=settings.api_host,
        port=settings.metrics_port, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(), name="metrics")
    log.info("metrics on :%d/metrics", settings.metrics_port)
    try:
        yield server
    finally:
        server.should_exit = True
        await task
