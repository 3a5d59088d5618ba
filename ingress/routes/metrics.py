"""``GET /metrics``: this process's Prometheus metrics, plus the broker's queue depths.

In the embedded run this is every metric (one process); in a distributed deployment each
stage serves its own on ``METRICS_PORT`` (README, "Metrics"). ``METRICS_TOKEN`` set: the
scrape must send it as a Bearer token. Unset: only a client on this machine (loopback) may
read them, since the API port is the published one and the metrics tell queue depths,
per-model counts and GPU memory to whoever asks.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from common.metrics import observe_queues
from common.metrics.exposition import CONTENT_TYPE_LATEST, UNAUTHORIZED, authorized, render
from ingress.deps import RuntimeDep
from ingress.errors import error_response
from ingress.openapi.responses import error_answers

router = APIRouter(tags=["system"])

# Declares the token in the document (``authorized`` reads the header). It is optional: the
# ``{}`` alternative (appended to FastAPI's list by ``openapi_extra``) says a deployment
# without METRICS_TOKEN needs none.
METRICS_TOKEN = HTTPBearer(auto_error=False, scheme_name="metricsToken",
                           description="METRICS_TOKEN, cuando el operador lo define")
DeclaredToken = Annotated[HTTPAuthorizationCredentials | None, Depends(METRICS_TOKEN)]


@router.get("/metrics", response_class=Response, openapi_extra={"security": [{}]}, responses={
    200: {"description": "Prometheus text format 0.0.4",
          "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
    **error_answers(401, examples={401: UNAUTHORIZED})})
async def metrics(request: Request, runtime: RuntimeDep, _: DeclaredToken) -> Response:
    token = runtime.settings.metrics_token
    if not (authorized(token, request.headers.get("authorization")) if token
            else _from_loopback(request)):
        return error_response(401, UNAUTHORIZED)
    await observe_queues(runtime.bus)
    return Response(render(), media_type=CONTENT_TYPE_LATEST)


def _from_loopback(request: Request) -> bool:
    """Whether the client is on this machine (behind a trusted proxy uvicorn already put the
    forwarded address here, so a request relayed from outside does not pass)."""
    try:
        return request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:  # not an address (a unix socket's peer, a test client's name)
        return False
