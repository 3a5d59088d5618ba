"""DEFAULT_SCALE: what a request without ``scale`` gets, and what GET /api/models says.

A request that names no scale gets the model's default scale, lowered to DEFAULT_SCALE when
that is smaller; 4 (the manual's value) leaves every model's default as the manual lists it
(tests/ingress/test_models.py). Here the setting is 2.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from common.settings import Settings
from tests.ingress.conftest import SignedUp, make_settings
from tests.ingress.image_files import picture, submit
from tests.ingress.video_clips import make_clip


@pytest.fixture
def settings() -> Settings:
    return make_settings(default_scale=2, image_wait_seconds=0)


async def test_the_model_list_shows_the_configured_default(client: httpx.AsyncClient) -> None:
    models = (await client.get("/api/models")).json()["models"]
    assert {m["id"]: m["default_scale"] for m in models} == {
        "general_x4": 2, "general_x2": 2, "anime": 2, "anime_video": 2, "general_v3": 2}


@pytest.mark.parametrize(("fields", "scale"), [({}, 2), ({"model_type": "general_x2"}, 2),
                                                ({"scale": 4}, 4), ({"scale": 1}, 1)])
async def test_an_image_without_scale_gets_the_lowered_default(
    client: httpx.AsyncClient, user: SignedUp, fields: dict[str, Any], scale: int
) -> None:
    response = await submit(client, user, picture(8, 6), **fields)
    assert response.status_code == 202, response.text
    assert response.json()["image"]["scale"] == scale


async def test_a_video_without_scale_gets_the_lowered_default(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    clip = base64.b64encode(make_clip(frames=6, audio=False)).decode()
    response = await client.post("/api/videos/enhance", headers=user.headers,
                                 json={"video_base64": clip, "filename": "c.mp4"})
    assert response.status_code == 202, response.text
    assert response.json()["video"]["scale"] == 2
