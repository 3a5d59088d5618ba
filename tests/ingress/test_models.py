"""GET /api/models: public, five models, the manual's entries verbatim, plus honest availability.

Availability comes from the upscale workers' heartbeats (``common.model_status``); these tests
write real heartbeats through ``common.heartbeat.Heartbeat`` with the report a worker would
send, so the API reads exactly what it reads in production.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from common.heartbeat import Heartbeat, WorkerInfo
from common.model_status import FACE_ENHANCE, REPORT_FIELD, ModelState, Weights
from common.models import MODEL_IDS, public_listing
from common.runtime import Runtime
from common.settings import Settings
from tests.embedded import manual_models
from tests.image_samples import b64
from tests.ingress.conftest import SignedUp, make_settings
from tests.ingress.image_files import picture
from tests.ingress.video_clips import make_clip

# The two entries the manual prints, exactly as printed (parsed from the manual).
MANUAL_ENTRIES = manual_models()
# The manual's table: model_type → (name, default scale).
MANUAL_TABLE = {
    "general_x4": ("RealESRGAN_x4plus", 4),
    "general_x2": ("RealESRGAN_x2plus", 2),
    "anime": ("RealESRGAN_x4plus_anime_6B", 4),
    "anime_video": ("realesr-animevideov3", 4),
    "general_v3": ("realesr-general-x4v3", 4),
}
ADDED = ["available", "weights"]
MISSING_TEXT = ("Modelo general_v3 no disponible: faltan sus pesos (realesr-general-x4v3.pth). "
                "Descárguelos con: .venv/bin/python -m pipeline.upscale.engine.weights fetch "
                "general_v3")
FACE_TEXT = ("face_enhance no disponible: faltan los pesos de GFPGAN (GFPGANv1.4.pth). "
             "Descárguelos con: .venv/bin/python -m pipeline.upscale.engine.weights fetch gfpgan")


@pytest.fixture
def settings() -> Settings:
    return make_settings(image_wait_seconds=0)


def offline_report(retry_at: datetime | None = None) -> dict[str, Any]:
    """What a worker on an offline host reports after setup: three converted, the rest not."""
    retry_at = retry_at or datetime.now(UTC) + timedelta(minutes=5)
    missing = ModelState(Weights.MISSING, retry_at, MISSING_TEXT)
    states = {m: ModelState(Weights.CONVERTED) for m in ("general_x4", "anime", "anime_video")}
    states |= {"general_x2": missing, "general_v3": missing,
               FACE_ENHANCE: ModelState(Weights.MISSING, retry_at, FACE_TEXT)}
    return {REPORT_FIELD: {key: state.to_doc() for key, state in states.items()}}



@pytest.fixture
async def upscale_worker(runtime: Runtime) -> AsyncIterator[Callable[..., Any]]:
    """Start real heartbeats of upscale workers reporting the given ``models`` documents."""
    beats: list[Heartbeat] = []

    async def start(report: dict[str, Any]) -> Heartbeat:
        async def current() -> dict[str, Any]:
            return report

        beat = Heartbeat(runtime.store, WorkerInfo("upscale", "cpu", "test"), current)
        await beat.start()
        beats.append(beat)
        return beat

    yield start
    for beat in beats:
        await beat.stop()


async def test_models_are_listed_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/models")
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["total", "models"]
    assert body["total"] == 5 == len(body["models"])
    manual_fields = [{k: v for k, v in entry.items() if k not in ADDED}
                     for entry in body["models"]]
    assert manual_fields == public_listing()
    by_id = {entry["id"]: entry for entry in body["models"]}
    assert {k: (v["name"], v["default_scale"]) for k, v in by_id.items()} == MANUAL_TABLE
    for entry in MANUAL_ENTRIES:
        # The manual's fields in the manual's order, then the two additions.
        assert list(by_id[entry["id"]].items())[: len(entry)] == list(entry.items())
        assert list(by_id[entry["id"]])[len(entry):] == ADDED
    # No upscale worker has reported: nothing can run now, and we do not pretend otherwise.
    assert {(e["available"], e["weights"]) for e in body["models"]} == {(False, "unknown")}


async def test_a_bad_token_does_not_matter_for_the_public_list(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/models", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 200
    assert response.json()["total"] == 5


async def test_models_info_and_health_say_what_the_workers_report(
    client: httpx.AsyncClient, upscale_worker: Callable[..., Awaitable[Heartbeat]]
) -> None:
    await upscale_worker(offline_report())
    models = {e["id"]: (e["available"], e["weights"])
              for e in (await client.get("/api/models")).json()["models"]}
    assert models == {"general_x4": (True, "converted"), "anime": (True, "converted"),
                      "anime_video": (True, "converted"), "general_x2": (False, "missing"),
                      "general_v3": (False, "missing")}
    info = (await client.get("/api/info")).json()
    assert info["face_enhance"] == {"available": False, "weights": "missing"}
    health = await client.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    assert health.json()["services"]["models"] == (
        "3/5 ready; general_x2: missing, general_v3: missing; face_enhance: missing")


async def test_the_best_worker_counts_and_a_stale_failure_is_retried(
    client: httpx.AsyncClient, upscale_worker: Callable[..., Awaitable[Heartbeat]]
) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    await upscale_worker(offline_report(retry_at=past))
    official = {m: ModelState(Weights.OFFICIAL).to_doc() for m in ("general_x4",)}
    await upscale_worker({REPORT_FIELD: official})
    models = {e["id"]: (e["available"], e["weights"])
              for e in (await client.get("/api/models")).json()["models"]}
    assert models["general_x4"] == (True, "official")  # the better of the two workers
    assert models["anime"] == (True, "converted")
    # The failure is older than its retry time: the next request tries to obtain it again.
    assert models["general_v3"] == (True, "downloads on first use")


async def _stored(runtime: Runtime) -> tuple[int, int, int]:
    return (await runtime.store.images.count_documents({}),
            await runtime.store.videos.count_documents({}),
            await runtime.store.db["fs.files"].count_documents({}))


@pytest.mark.parametrize(("fields", "text"), [
    ({"model_type": "general_v3"}, MISSING_TEXT),
    ({"model_type": "general_x4", "face_enhance": True}, FACE_TEXT),
])
async def test_a_job_for_a_missing_model_gets_503_before_any_work(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime,
    upscale_worker: Callable[..., Awaitable[Heartbeat]], fields: dict[str, Any], text: str,
) -> None:
    await upscale_worker(offline_report())
    image = await client.post("/api/images/enhance", headers=user.headers,
                              json={"image_base64": b64(picture(16, 16)), **fields})
    video = await client.post("/api/videos/enhance", headers=user.headers, json={
        "video_base64": base64.b64encode(make_clip(frames=3)).decode(),
        "filename": "clip.mp4", **fields})
    # The image route's text starts as the worker's own failure would, so a client gets one
    # answer whether the API or the worker found the weights missing.
    for response, prefix in ((image, "Error procesando imagen: "), (video, "")):
        assert response.status_code == 503, response.text
        assert response.json() == {"error": prefix + text}
        assert 280 <= int(response.headers["Retry-After"]) <= 301
    assert await _stored(runtime) == (0, 0, 0), "nothing stored, nothing queued"
    ok = await client.post("/api/images/enhance", headers=user.headers,
                           json={"image_base64": b64(picture(16, 16)), "model_type": "anime"})
    assert ok.status_code == 202, ok.text  # a ready model is accepted (no worker here: 202)


def test_every_model_has_a_report_key() -> None:
    assert set(offline_report()[REPORT_FIELD]) == {*MODEL_IDS, FACE_ENHANCE}
