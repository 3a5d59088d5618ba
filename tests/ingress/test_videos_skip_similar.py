"""POST /api/videos/enhance's ``skip_similar`` (near-repeat threshold in dB PSNR): JSON and
multipart, stored on the job, shown with ``frames_reused``, documented, refused when wrong."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from bson import ObjectId

from common.runtime import Runtime
from common.skip_similar import DEFAULT_DB, MESSAGE
from tests.ingress.conftest import SignedUp
from tests.ingress.video_clips import make_clip

ENHANCE = "/api/videos/enhance"


@pytest.fixture(scope="module")
def clip() -> bytes:
    return make_clip(frames=12, audio=False)


def json_body(clip: bytes, **options: Any) -> dict[str, Any]:
    return {"video_base64": base64.b64encode(clip).decode(), "filename": "a.mp4", **options}


async def stored_threshold(runtime: Runtime, video: dict[str, Any]) -> Any:
    doc = await runtime.store.videos.find_one({"_id": ObjectId(video["id"])})
    assert doc is not None
    return doc["skip_similar"]


@pytest.mark.parametrize(("given", "expected"), [
    ({}, None), ({"skip_similar": False}, None), ({"skip_similar": None}, None),
    ({"skip_similar": True}, DEFAULT_DB), ({"skip_similar": 45.5}, 45.5),
    ({"skip_similar": 30}, 30.0),
])
async def test_json_option_is_stored_and_shown(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes,
        given: dict[str, Any], expected: float | None) -> None:
    response = await client.post(ENHANCE, headers=user.headers, json=json_body(clip, **given))
    assert response.status_code == 202, response.text
    video = response.json()["video"]
    assert video["skip_similar"] == expected
    assert await stored_threshold(runtime, video) == expected
    shown = (await client.get(f"/api/videos/{video['id']}", headers=user.headers)).json()
    assert shown["video"]["skip_similar"] == expected
    assert shown["video"]["frames_reused"] == 0
    listed = (await client.get("/api/videos", headers=user.headers)).json()["videos"]
    assert [v["frames_reused"] for v in listed] == [0]


@pytest.mark.parametrize(("given", "expected"), [
    ("true", DEFAULT_DB), ("FALSE", None), ("42", 42.0), ("37.5", 37.5),
])
async def test_multipart_option_is_read_from_its_text(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes,
        given: str, expected: float | None) -> None:
    response = await client.post(ENHANCE, headers=user.headers,
                                 files={"file": ("a.mp4", clip, "video/mp4")},
                                 data={"skip_similar": given})
    assert response.status_code == 202, response.text
    assert response.json()["video"]["skip_similar"] == expected
    assert await stored_threshold(runtime, response.json()["video"]) == expected


@pytest.mark.parametrize("given", ["40", 29.9, 100.5, 0, -5])
async def test_json_values_out_of_the_documented_range_are_a_400(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes,
        given: Any) -> None:
    response = await client.post(ENHANCE, headers=user.headers,
                                 json=json_body(clip, skip_similar=given))
    assert response.status_code == 400, response.text
    assert "skip_similar" in response.json()["error"]
    assert MESSAGE in response.json()["error"]
    assert await runtime.store.videos.count_documents({}) == 0


@pytest.mark.parametrize("given", ["sí", "nan", "inf", "12"])
async def test_multipart_values_that_are_no_threshold_are_a_400(
        client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes,
        given: str) -> None:
    response = await client.post(ENHANCE, headers=user.headers,
                                 files={"file": ("a.mp4", clip, "video/mp4")},
                                 data={"skip_similar": given})
    assert response.status_code == 400, response.text
    assert MESSAGE in response.json()["error"]
    assert await runtime.store.videos.count_documents({}) == 0


async def test_openapi_documents_the_option_and_the_count(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    body = schema["paths"]["/api/videos/enhance"]["post"]["requestBody"]["content"]
    for encoding in ("application/json", "multipart/form-data"):
        option = body[encoding]["schema"]["properties"]["skip_similar"]
        assert option["default"] is False
        assert {"type": "boolean"} in option["oneOf"]
        assert {"type": "number", "minimum": 30.0, "maximum": 100.0} in option["oneOf"]
        assert f"{DEFAULT_DB:g} dB" in option["description"]
    summary = schema["components"]["schemas"]["VideoSummary"]
    assert "frames_reused" in summary["required"]
    assert summary["properties"]["frames_reused"]["type"] == "integer"
