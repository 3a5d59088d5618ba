"""``/api/health`` and ``/api/info`` over HTTP against a real database and bus."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from common.bus import MemoryBus
from common.heartbeat import Heartbeat, WorkerInfo
from common.runtime import Runtime
from common.settings import Settings
from common.store import SecantusServer, Store
from ingress.app import create_app


def _settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, jwt_secret_key="k" * 40, **overrides)  # type: ignore[call-arg]


@pytest.fixture
async def runtime(store: Store) -> AsyncIterator[Runtime]:
    bus = MemoryBus(delivery_limit=3)
    await bus.start()
    yield Runtime(
        settings=_settings(), store=store, bus=bus, embedded=False
    )
    await bus.close()


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


async def _get(runtime: Runtime, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(runtime, jwt_secret="k" * 40))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_health_is_the_manuals_shape_when_all_is_up(runtime: Runtime) -> None:
    response = await _get(runtime, "/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["services"]["api"] == "ok"
    assert body["services"]["mongodb"] == "ok"
    assert body["services"]["broker"] == "ok (in-process)"
    assert body["services"]["gpu"] == "unknown (no upscale worker running)"
    assert body["services"]["models"] == "unknown (no upscale worker running)"


async def test_health_names_the_gpu_of_a_live_upscale_worker(runtime: Runtime) -> None:
    beat = Heartbeat(runtime.store, WorkerInfo("upscale", "cuda", "NVIDIA H100 80GB HBM3"))
    await beat.start()
    try:
        body = (await _get(runtime, "/api/health")).json()
        assert body["services"]["gpu"] == "ok (NVIDIA H100 80GB HBM3)"
        info = (await _get(runtime, "/api/info")).json()
        assert {"stage": "upscale", "device": "cuda", "device_name": "NVIDIA H100 80GB HBM3"} in (
            info["workers"]
        )
    finally:
        await beat.stop()
    body = (await _get(runtime, "/api/health")).json()
    assert body["services"]["gpu"] == "unknown (no upscale worker running)"


async def test_health_says_why_the_gpu_is_not_used(runtime: Runtime) -> None:
    beat = Heartbeat(runtime.store, WorkerInfo("upscale", "cpu", "CUDA not available"))
    await beat.start()
    try:
        body = (await _get(runtime, "/api/health")).json()
        assert body["services"]["gpu"] == "unavailable (CUDA not available; using CPU)"
        runtime.settings = _settings(use_gpu=False)
        body = (await _get(runtime, "/api/health")).json()
        assert body["services"]["gpu"] == "disabled (USE_GPU=FALSE)"
    finally:
        await beat.stop()


async def test_health_is_degraded_503_when_the_broker_is_down(runtime: Runtime) -> None:
    await runtime.bus.close()
    response = await _get(runtime, "/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["services"]["broker"] == "unavailable (in-process)"
    assert body["services"]["mongodb"] == "ok"
    # Liveness does not follow the dependencies: a broker outage restarts no pod.
    live = await _get(runtime, "/api/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "alive"})


# pymongo leaks a socket when a client closes while reconnecting (PYTHON-5867).
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
async def test_health_is_degraded_503_while_the_database_is_down(tmp_path: Path) -> None:
    server = SecantusServer(tmp_path / "db")
    await server.start()
    store = await Store.connect(server.url, f"h_{uuid.uuid4().hex[:8]}", retry_seconds=5)
    bus = MemoryBus(delivery_limit=3)
    await bus.start()
    runtime = Runtime(
        settings=_settings(), store=store, bus=bus, embedded=False
    )
    try:
        await server.stop()
        response = await _get(runtime, "/api/health")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "degraded"
        assert body["services"]["mongodb"] == "unavailable"
        assert body["services"]["gpu"] == "unknown (database unavailable)"
        assert body["services"]["models"] == "unknown (database unavailable)"
        live = await _get(runtime, "/api/health/live")  # a database outage restarts no pod
        assert (live.status_code, live.json()) == (200, {"status": "alive"})

        await server.start()  # the same data directory and port: the client reconnects
        for _ in range(60):
            response = await _get(runtime, "/api/health")
            if response.status_code == 200:
                break
            await asyncio.sleep(0.5)
        assert response.json()["status"] == "healthy"
    finally:
        await bus.close()
        await store.close()
        await server.stop()
        gc.collect()  # collect that socket while the filter above applies


async def test_info_reports_version_device_and_limits_but_no_paths(runtime: Runtime) -> None:
    response = await _get(runtime, "/api/info")
    assert response.status_code == 200
    info = response.json()
    assert info["version"]
    assert info["mode"] == "distributed"
    # Public and unauthenticated: no file system path (MODELS_DIR, DATA_DIR) shows.
    assert "models_dir" not in info
    assert str(runtime.settings.models_dir) not in response.text
    assert [v for v in _leaves(info) if isinstance(v, str) and v.startswith("/")] == []
    assert info["device"]["use_gpu"] is True
    assert info["tiling"] == {"tile_size": 512, "tile_pad": 10}
    assert info["limits"]["max_input_pixels"] == runtime.settings.max_input_pixels
    assert info["face_enhance"] == {"available": False, "weights": "unknown"}
