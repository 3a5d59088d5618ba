"""``GET /metrics``: this process's Prometheus metrics, plus the broker's queue depths.

In the embedded run this is every metric (one process); in a distributed deployment each
stage serves its own on ``METRICS_PORT`` (README, "Metrics"). ``METRICS_TOKEN`` set: the
scrape must send it as a Bearer token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from common.metrics import observe_queues
from common.metrics.exposition import CONTENT_TYPE_LATEST, UNAUTHORIZED, authorized, render
from ingress.deps import RuntimeDep
from ingress.errors import error_response
from ingress.openapi.responses import error_answers

router = APIRouter(tags=["system"])


@router.get("/metrics", response_class=Response, responses={
    200: {"description": "Prometheus text format 0.0.4",
          "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
    **error_answers(401)})
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    if not authorized(runtime.settings.metrics_token, request.headers.get("authorization")):
        return error_response(401, UNAUTHORIZED)
    await observe_queues(runtime.bus)
    return Response(render(), media_type=CONTENT_TYPE_LATEST)
