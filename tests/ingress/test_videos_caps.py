"""The configured video caps answer 413 at probe time, before anything is stored."""

from __future__ import annotations

import base64
from fractions import Fraction

import httpx
import pytest

from common.runtime import Runtime
from common.settings import Settings
from tests.ingress.conftest import SignedUp, make_settings
from tests.ingress.video_clips import make_clip

ENHANCE = "/api/videos/enhance"


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        max_video_frames=20,
        max_video_seconds=5.0,
        max_video_pixels=64 * 48,
        max_output_pixels=64 * 48 * 9,  # scale 3 fits, scale 4 does not
        max_request_bytes=200_000,
    )


async def post(
    client: httpx.AsyncClient, user: SignedUp, clip: bytes, **extra: object
) -> httpx.Response:
    body = {"video_base64": base64.b64encode(clip).decode(), "filename": "a.mp4", **extra}
    return await client.post(ENHANCE, headers=user.headers, json=body)


async def assert_nothing_stored(runtime: Runtime) -> None:
    assert await runtime.store.videos.count_documents({}) == 0
    assert await runtime.store.db["blobs.files"].count_documents({}) == 0


@pytest.mark.parametrize(
    ("clip_args", "extra", "words"),
    [
        ({"frames": 30}, {"scale": 2}, "frames"),  # 30 frames > 20
        ({"frames": 10, "rate": 1}, {"scale": 2}, "dura"),  # 10 s > 5 s
        ({"frames": 10, "width": 80, "height": 48}, {"scale": 1}, "80x48"),  # source pixels
        ({"frames": 10}, {"scale": 4}, "256x192"),  # output pixels: 64·4 × 48·4
    ],
)
async def test_caps_exceeded_are_a_413_and_store_nothing(
    client: httpx.AsyncClient,
    user: SignedUp,
    runtime: Runtime,
    clip_args: dict[str, int],
    extra: dict[str, int],
    words: str,
) -> None:
    response = await post(client, user, make_clip(**clip_args), **extra)  # type: ignore[arg-type]
    assert response.status_code == 413, response.text
    assert words in response.json()["error"]
    await assert_nothing_stored(runtime)


async def test_a_video_within_every_cap_is_accepted(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    response = await post(client, user, make_clip(frames=20, rate=Fraction(25)), scale=3)
    assert response.status_code == 202, response.text
    assert response.json()["video"]["frame_count"] == 20


async def test_a_body_over_the_request_limit_is_a_413(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    big = make_clip(frames=4, rate=4, width=64, height=48, codec="rawvideo", fmt="matroska")
    padded = big + b"\0" * 200_000  # a multipart body past max_request_bytes
    response = await client.post(
        ENHANCE, headers=user.headers, files={"file": ("a.mkv", padded, "video/x-matroska")}
    )
    assert response.status_code == 413
    assert "demasiado grande" in response.json()["error"]
    await assert_nothing_stored(runtime)
