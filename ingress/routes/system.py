"""``GET /api/health``, ``GET /api/health/live`` and ``GET /api/info``.

Both are public (no token), so they show what an operator needs to see a deployment's shape:
versions, mode, device and limits settings, live workers, which models are ready; never a path
or a secret. Models that cannot be had do not make the service unhealthy (the others work):
health lists them (``services.models``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from common.heartbeat import live_workers
from common.model_status import FACE_ENHANCE, Availability
from common.version import VERSION
from ingress.availability import reported
from ingress.deps import RuntimeDep
from ingress.openapi import schemas as S
from ingress.openapi.responses import answers

router = APIRouter(prefix="/api", tags=["system"])

# A health check must answer quickly even while a dependency hangs.
_PROBE_TIMEOUT = 2.0


async def _probe(check: Any) -> bool:
    with contextlib.suppress(Exception):
        return bool(await asyncio.wait_for(check(), _PROBE_TIMEOUT))
    return False


async def _gpu_status(runtime: RuntimeDep) -> str:
    """The manual's ``services.gpu``: ``ok (<name>)`` or why the GPU is not used."""
    if not runtime.settings.use_gpu:
        return "disabled (USE_GPU=FALSE)"
    try:
        workers = await asyncio.wait_for(live_workers(runtime.store, "upscale"), _PROBE_TIMEOUT)
    except Exception:
        return "unknown (database unavailable)"
    gpus = sorted({w["device_name"] for w in workers if w.get("device") == "cuda"})
    if gpus:
        return f"ok ({', '.join(gpus)})"
    if workers:
        return f"unavailable ({workers[0].get('device_name', 'CUDA not available')}; using CPU)"
    return "unknown (no upscale worker running)"


@router.get("/health", response_model=None, responses=answers({
    200: S.Health,
    503: {"model": S.Health, "description": "degraded: MongoDB or the broker does not answer"},
}))
async def health(runtime: RuntimeDep) -> JSONResponse:
    mongo_ok, bus_ok = await asyncio.gather(_probe(runtime.store.ping), _probe(runtime.bus.healthy))
    healthy = mongo_ok and bus_ok
    models = await reported(runtime) if mongo_ok else None
    body = {
        "status": "healthy" if healthy else "degraded",
        "services": {
            "api": "ok",
            "mongodb": "ok" if mongo_ok else "unavailable",
            "gpu": await _gpu_status(runtime),
            "broker": ("ok" if bus_ok else "unavailable")
            + (" (in-process)" if not runtime.settings.amqp_url else " (rabbitmq)"),
            "models": models.summary() if models else "unknown (database unavailable)",
        },
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/health/live", response_model=None, responses=answers({200: S.Alive}))
async def alive() -> dict[str, str]:
    """Liveness: the process serves requests, whatever its dependencies do. An orchestrator
    restarts a pod on this one, and takes it out of rotation on ``/api/health`` (readiness),
    so a database outage does not restart every API pod at once."""
    return {"status": "alive"}


@router.get("/info", response_model=None, responses=answers({200: S.Info}))
async def info(runtime: RuntimeDep) -> dict[str, Any]:
    s = runtime.settings
    workers = []
    with contextlib.suppress(Exception):
        workers = await asyncio.wait_for(live_workers(runtime.store), _PROBE_TIMEOUT)
    models = await reported(runtime) or Availability.merge([])
    return {
        "name": "Image Enhancer API",
        "version": VERSION,
        "mode": "embedded" if runtime.embedded else "distributed",
        "device": {"use_gpu": s.use_gpu, "precision": s.precision},
        "tiling": {"tile_size": s.tile_size, "tile_pad": s.tile_pad},
        "default_scale": s.default_scale,
        # GFPGAN for ``face_enhance=true``: ``available`` and ``weights`` as in /api/models.
        "face_enhance": models.public(FACE_ENHANCE),
        "limits": {
            "max_request_bytes": s.max_request_bytes,
            "max_input_pixels": s.max_input_pixels,
            "max_output_pixels": s.max_output_pixels,
        },
        "workers": [
            {"stage": w["stage"], "device": w.get("device"), "device_name": w.get("device_name")}
            for w in workers
        ],
    }
