"""POST /api/videos/enhance: the manual's 202, exact probe figures, refusals before storing."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import ObjectId

from common.bus import Delivery
from common.contracts import VideoSubmitted, decode
from common.runtime import Runtime
from tests.ingress.conftest import SignedUp
from tests.ingress.video_clips import make_clip

ENHANCE = "/api/videos/enhance"
MESSAGE = "Video recibido, procesamiento iniciado. Consulte el estado con GET /api/videos/{id}"
MANUAL_FIELDS = {
    "id",
    "original_filename",
    "status",
    "duration_seconds",
    "fps",
    "frame_count",
    "original_width",
    "original_height",
    "frames_processed",
}
DOCUMENT_FIELDS = {
    "_id",
    "user_id",
    "original_filename",
    "original_blob",
    "status",
    "model_type",
    "scale",
    "face_enhance",
    "duration_seconds",
    "fps",
    "frame_rate",
    "frame_count",
    "original_width",
    "original_height",
    "frames_processed",
    "enhanced_width",
    "enhanced_height",
    "enhanced_blob",
    "processing_time_ms",
    "gpu_used",
    "error_message",
    "chunk_count",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
    "callback_url",  # where the webhook goes (None: no webhook)
    "skip_similar",  # the near-repeat threshold in dB (None: exact repeats only)
    "frames_reused",
}


@pytest.fixture(scope="module")
def clip() -> bytes:
    return make_clip(frames=30, audio=True)  # 30000/1001, 64×48, AAC


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def nothing_stored(runtime: Runtime) -> bool:
    db = runtime.store.db
    return (
        await db["videos"].count_documents({}) == 0
        and await db["blobs.files"].count_documents({}) == 0
    )


async def test_submit_answers_the_manuals_202_and_publishes_to_decode(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes
) -> None:
    seen: list[Any] = []
    arrived = asyncio.Event()

    async def on_decode(delivery: Delivery) -> None:
        seen.append(decode(delivery.body))
        arrived.set()

    await runtime.bus.consume("decode", on_decode)
    body = {
        "video_base64": b64(clip),
        "filename": "mi_video.mp4",
        "model_type": "general_x4",
        "scale": 2,
        "face_enhance": False,
    }
    response = await client.post(ENHANCE, headers=user.headers, json=body)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["message"] == MESSAGE
    video = answer["video"]
    assert video.keys() >= MANUAL_FIELDS
    assert video["original_filename"] == "mi_video.mp4"
    assert video["status"] == "pending"
    assert video["fps"] == 29.97
    assert video["frame_count"] == 30
    assert video["duration_seconds"] == pytest.approx(30 * 1001 / 30000, abs=1e-3)
    assert (video["original_width"], video["original_height"]) == (64, 48)
    assert video["frames_processed"] == 0
    assert (video["model_type"], video["scale"], video["face_enhance"]) == ("general_x4", 2, False)

    doc = await runtime.store.videos.find_one({"_id": ObjectId(video["id"])})
    assert doc is not None and set(doc) == DOCUMENT_FIELDS
    assert doc["callback_url"] is None
    assert doc["frame_rate"] == "30000/1001"
    info = await runtime.store.blobs.info(doc["original_blob"])
    assert info.filename == "mi_video.mp4"
    assert info.content_type == "video/mp4"
    assert info.metadata == {"video_id": ObjectId(video["id"]), "kind": "original"}
    assert await runtime.store.blobs.get(doc["original_blob"]) == clip

    await asyncio.wait_for(arrived.wait(), 5)
    assert seen == [
        VideoSubmitted(
            video_id=video["id"],
            user_id=str(doc["user_id"]),
            original_blob=doc["original_blob"],
            model_type="general_x4",
            scale=2,
            face_enhance=False,
        )
    ]


@pytest.mark.parametrize(
    ("model_type", "expected"),
    [
        (None, ("general_x4", 4)),
        ("general_x2", ("general_x2", 2)),
        ("anime_video", ("anime_video", 4)),
    ],
)
async def test_model_and_scale_default_to_the_models_own(
    client: httpx.AsyncClient,
    user: SignedUp,
    clip: bytes,
    model_type: str | None,
    expected: tuple[str, int],
) -> None:
    body: dict[str, Any] = {"video_base64": b64(clip), "filename": "clip.mp4"}
    if model_type is not None:
        body["model_type"] = model_type
    response = await client.post(ENHANCE, headers=user.headers, json=body)
    assert response.status_code == 202, response.text
    video = response.json()["video"]
    assert (video["model_type"], video["scale"], video["face_enhance"]) == (*expected, False)


@pytest.mark.parametrize(
    ("change", "field_or_text"),
    [
        ({"video_base64": "esto no es base64!!"}, "base64"),
        ({"video_base64": ""}, "vacío"),
        ({"video_base64": b64(b"hola, esto es texto y no un video" * 20)}, "Formato de video"),
        ({"video_base64": b64(b"\x1a\x45\xdf\xa3" + b"\x00" * 300)}, "no es un video válido"),
        ({"filename": None}, "'filename'"),
        ({"filename": "sin_extension"}, "extensión"),
        ({"filename": "../"}, "extensión"),
        ({"model_type": "general_x8"}, "model_type"),
        ({"scale": 0}, "'scale'"),
        ({"scale": 5}, "'scale'"),
        ({"scale": True}, "'scale'"),
        ({"video_base64": None}, "'video_base64'"),
    ],
)
async def test_bad_input_is_a_400_and_stores_nothing(
    client: httpx.AsyncClient,
    user: SignedUp,
    runtime: Runtime,
    clip: bytes,
    change: dict[str, Any],
    field_or_text: str,
) -> None:
    body: dict[str, Any] = {"video_base64": b64(clip), "filename": "mi_video.mp4", **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = await client.post(ENHANCE, headers=user.headers, json=body)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    assert field_or_text in response.json()["error"]
    assert await nothing_stored(runtime)


async def test_body_that_is_not_json_or_of_another_type_is_a_400(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    broken = await client.post(
        ENHANCE, headers={**user.headers, "Content-Type": "application/json"}, content=b"{nope"
    )
    assert broken.status_code == 400 and "error" in broken.json()
    other = await client.post(
        ENHANCE, headers={**user.headers, "Content-Type": "text/plain"}, content=b"hola"
    )
    assert other.status_code == 400 and "Content-Type" in other.json()["error"]
    assert await nothing_stored(runtime)


async def test_submit_requires_a_token(client: httpx.AsyncClient, clip: bytes) -> None:
    response = await client.post(ENHANCE, json={"video_base64": b64(clip), "filename": "a.mp4"})
    assert response.status_code == 401
    assert response.json() == {"error": "Token de autenticación requerido"}


async def test_multipart_upload_with_form_fields(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes
) -> None:
    response = await client.post(
        ENHANCE,
        headers=user.headers,
        files={"file": ("ignored_name.mp4", clip, "video/mp4")},
        data={
            "filename": "vacaciones.mp4",
            "model_type": "anime",
            "scale": "3",
            "face_enhance": "true",
        },
    )
    assert response.status_code == 202, response.text
    video = response.json()["video"]
    assert video["original_filename"] == "vacaciones.mp4"
    assert (video["model_type"], video["scale"], video["face_enhance"]) == ("anime", 3, True)
    assert video["frame_count"] == 30 and video["fps"] == 29.97
    doc = await runtime.store.videos.find_one({})
    assert doc is not None
    assert await runtime.store.blobs.get(doc["original_blob"]) == clip


async def test_multipart_streams_a_file_of_several_megabytes(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    # Uncompressed 320×240 frames: ~2.7 MB, past the form parser's 1 MiB in-memory spool.
    big = make_clip(frames=24, rate=24, width=320, height=240, codec="rawvideo", fmt="matroska")
    assert len(big) > 2_500_000
    response = await client.post(
        ENHANCE,
        headers=user.headers,
        files={"video": ("grande.mkv", big, "video/x-matroska")},
        data={"scale": "2"},
    )
    assert response.status_code == 202, response.text
    video = response.json()["video"]
    assert video["original_filename"] == "grande.mkv"  # from the upload when no field
    assert (video["frame_count"], video["fps"]) == (24, 24.0)
    assert (video["original_width"], video["original_height"]) == (320, 240)
    doc = await runtime.store.videos.find_one({})
    assert doc is not None
    assert await runtime.store.blobs.get(doc["original_blob"]) == big


async def test_multipart_without_a_file_is_a_400(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    response = await client.post(
        ENHANCE,
        headers=user.headers,
        files={"documento": ("a.mp4", b"x", "video/mp4")},
        data={"filename": "a.mp4"},
    )
    assert response.status_code == 400
    assert "'file'" in response.json()["error"]
    assert await nothing_stored(runtime)


async def test_unconfirmed_publish_answers_503_and_leaves_the_job_in_error(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, clip: bytes
) -> None:
    await runtime.bus.close()  # a closed bus cannot take the message
    response = await client.post(
        ENHANCE, headers=user.headers, json={"video_base64": b64(clip), "filename": "a.mp4"}
    )
    assert response.status_code == 503
    assert "no disponible" in response.json()["error"]
    docs = await runtime.store.videos.find({}).to_list()
    assert len(docs) == 1
    assert docs[0]["status"] == "error"
    assert "no disponible" in docs[0]["error_message"]


def test_the_api_process_does_not_import_torch() -> None:
    code = (
        "import sys, ingress.app, ingress.routes.videos\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr


async def test_openapi_documents_both_upload_encodings(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    body = schema["paths"]["/api/videos/enhance"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["required"] == ["video_base64", "filename"]
    assert body["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
