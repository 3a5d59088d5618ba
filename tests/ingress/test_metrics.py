"""``/metrics`` after real jobs (the embedded shape: the API and the stages in one process, real
anime_video weights, real media), parsed with prometheus_client's own parser; the token; the
broker's queue depths; and a stage process's own endpoint."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.bus import MemoryBus
from common.metrics.exposition import stage_metrics
from common.runtime import Runtime
from common.settings import Settings
from common.store import Store
from ingress.app import create_app
from pipeline.decode.stage import STAGE as DECODE
from pipeline.encode.stage import STAGE as ENCODE
from pipeline.runner import start_stages, stop_stages
from pipeline.upscale.stage import STAGE as UPSCALE
from tests.common.bus.support import eventually
from tests.embedded import free_port
from tests.image_models import OFFLINE_WEIGHTS, image_models
from tests.ingress.conftest import SECRET, SignedUp, make_settings
from tests.ingress.image_files import picture
from tests.ingress.video_clips import make_clip

__all__ = ["image_models"]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
TOKEN = "scrape-" + "x" * 20


@pytest.fixture
def settings(image_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in OFFLINE_WEIGHTS.items():
        monkeypatch.setenv(name, value)
    return make_settings(models_dir=image_models, data_dir=tmp_path, use_gpu=False,
                         precision="fp32", tile_size=0, video_chunk_seconds=0.25,
                         video_preset="ultrafast", image_wait_seconds=60, metrics_token=TOKEN)


@pytest.fixture
async def stages(runtime: Runtime) -> AsyncIterator[None]:
    workers = await start_stages(runtime, [DECODE, UPSCALE, ENCODE])
    yield
    await stop_stages(workers)


def parse(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(client: httpx.AsyncClient) -> Samples:
    answer = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_counters_match_what_happened(client: httpx.AsyncClient, user: SignedUp,
                                            runtime: Runtime, stages: None) -> None:
    before = await scrape(client)
    image = await client.post("/api/images/enhance", headers=user.headers, json={
        "image_base64": base64.b64encode(picture(24, 24)).decode(),
        "model_type": "anime_video", "scale": 2})
    assert image.status_code == 201, image.text
    refused = await client.post("/api/images/enhance", headers=user.headers, json={
        "image_base64": base64.b64encode(picture(24, 24)).decode(), "model_type": "general_x2"})
    # No weights offline: the job is submitted, fails in the worker (dead-lettered) and the
    # answer is the 503 naming the commands that obtain them (issue 13), not a 500.
    assert refused.status_code == 503, refused.text
    assert "weights fetch general_x2" in refused.json()["error"]
    video = await client.post("/api/videos/enhance", headers=user.headers, json={
        "video_base64": base64.b64encode(make_clip(frames=12)).decode(),
        "filename": "clip.mp4", "model_type": "anime_video", "scale": 1})
    assert video.status_code == 202
    video_id = video.json()["video"]["id"]

    async def video_done() -> bool:
        got = await client.get(f"/api/videos/{video_id}?include_base64=false",
                               headers=user.headers)
        return bool(got.json()["video"]["status"] == "completed")

    await eventually(video_done, within=120)
    scraped: list[Samples] = []

    async def assembled() -> bool:  # the job completes just before its handler returns
        scraped.append(await scrape(client))
        return value(scraped[-1], "enhancer_stage_messages_total", stage="encode",
                     message="video.assemble", outcome="ok") > value(
            before, "enhancer_stage_messages_total", stage="encode",
            message="video.assemble", outcome="ok")

    await eventually(assembled)
    after = scraped[-1]

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("enhancer_jobs_submitted_total", kind="image", model="anime_video") == 1
    assert delta("enhancer_jobs_submitted_total", kind="image", model="general_x2") == 1
    assert delta("enhancer_jobs_submitted_total", kind="video", model="anime_video") == 1
    assert delta("enhancer_jobs_completed_total", kind="image", model="anime_video") == 1
    assert delta("enhancer_jobs_failed_total", kind="image", model="general_x2") == 1
    assert delta("enhancer_jobs_completed_total", kind="video", model="anime_video") == 1
    assert delta("enhancer_job_duration_seconds_count", kind="video", model="anime_video",
                 status="completed") == 1
    assert delta("enhancer_frames_processed_total", model="anime_video") == 12
    assert value(after, "enhancer_worker_fps", model="anime_video") > 0
    chunks = delta("enhancer_stage_messages_total", stage="upscale", message="chunk.ready",
                   outcome="ok")
    assert chunks >= 1 and delta("enhancer_stage_duration_seconds_count", stage="upscale",
                                 message="chunk.ready") == chunks
    assert delta("enhancer_stage_messages_total", stage="encode", message="video.assemble",
                 outcome="ok") == 1
    assert value(after, "enhancer_model_load_seconds_count", model="anime_video") >= 1
    assert value(after, "enhancer_queue_messages", queue="upscale") == 0
    assert value(after, "enhancer_queue_messages", queue="images") == 0
    assert value(after, "enhancer_queue_dead_letters", queue="images") == 1, \
        "the failed image's message was dead-lettered"


async def test_queue_depths_come_from_the_broker(client: httpx.AsyncClient,
                                                 runtime: Runtime) -> None:
    assert isinstance(runtime.bus, MemoryBus)
    for n in range(3):
        await runtime.bus.publish("decode", b"{}", message_id=f"m{n}")
    samples = await scrape(client)
    assert value(samples, "enhancer_queue_messages", queue="decode") == 3
    assert value(samples, "enhancer_queue_dead_letters", queue="decode") == 0
    assert ("enhancer_queue_messages", (("queue", "webhooks"),)) in samples


async def test_the_token_is_required_when_set(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        answer = await client.get("/metrics", headers=headers)
        assert (answer.status_code, answer.json()) == (
            401, {"error": "Token de métricas requerido"})


@pytest.mark.parametrize(("peer", "status"), [
    ("203.0.113.7", 401), ("192.168.86.20", 401), ("2001:db8::7", 401),
    ("127.0.0.1", 200), ("::1", 200),
])
async def test_without_a_token_only_this_machine_may_read_them(store: Store, peer: str,
                                                                status: int) -> None:
    # The API port is the published one: with no METRICS_TOKEN, queue depths and GPU memory
    # must not be told to any client that can reach it.
    bus = MemoryBus(delivery_limit=3)
    await bus.start()
    runtime = Runtime(settings=make_settings(), store=store, bus=bus, embedded=False)
    transport = httpx.ASGITransport(app=create_app(runtime, jwt_secret=SECRET),
                                    client=(peer, 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            answer = await http.get("/metrics")
    finally:
        await bus.close()
    assert answer.status_code == status
    if status == 401:
        assert answer.json() == {"error": "Token de métricas requerido"}
    else:
        assert "enhancer_jobs_completed" in answer.text


async def test_a_stage_process_serves_its_own_metrics() -> None:
    port = free_port()
    settings = make_settings(metrics_port=port, metrics_token=TOKEN, api_host="127.0.0.1")
    async with stage_metrics(settings), httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}") as http:
        await eventually(lambda: _listening(port))
        ok = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and "enhancer_jobs_completed" in ok.text
        assert parse(ok.text)  # the text format parses
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/other")).status_code == 404


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


