"""POST /api/images/enhance with no worker: 202, the stored document and blob, the message.

``IMAGE_WAIT_SECONDS=0`` here, so every accepted image is answered at once in ``pending``.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from bson import ObjectId

from common.bus import Delivery
from common.contracts import ImageJobSubmitted, decode
from common.runtime import Runtime
from common.settings import Settings
from ingress.images.documents import FIELDS
from tests.image_samples import b64
from tests.ingress.conftest import SignedUp, make_settings
from tests.ingress.image_files import ENHANCE, picture, submit

PENDING = "Imagen recibida, procesamiento en curso. Consulte el estado con GET /api/images/{id}"
DOCUMENT_FIELDS = {
    "_id",
    "user_id",
    "original_filename",
    "original_blob",
    "original_format",
    "original_content_type",
    "original_width",
    "original_height",
    "model_type",
    "scale",
    "output_width",
    "output_height",
    "output_format",
    "face_enhance",
    "status",
    "enhanced_blob",
    "enhanced_width",
    "enhanced_height",
    "processing_time_ms",
    "gpu_used",
    "error_message",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
    "callback_url",  # where the webhook goes (None: no webhook)
}


@pytest.fixture
def settings() -> Settings:
    return make_settings(image_wait_seconds=0)


@pytest.fixture
async def published(runtime: Runtime) -> asyncio.Queue[ImageJobSubmitted]:
    """What reaches the image lane, taken off it as a worker would."""
    seen: asyncio.Queue[ImageJobSubmitted] = asyncio.Queue()

    async def on_upscale(delivery: Delivery) -> None:
        message = decode(delivery.body)
        assert isinstance(message, ImageJobSubmitted)
        seen.put_nowait(message)

    await runtime.bus.consume("images", on_upscale)
    return seen


async def test_the_manuals_request_is_stored_published_and_answered_202(
    client: httpx.AsyncClient,
    user: SignedUp,
    runtime: Runtime,
    published: asyncio.Queue[ImageJobSubmitted],
) -> None:
    raw = picture(256, 128, "JPEG", quality=90)
    response = await submit(
        client,
        user,
        raw,
        filename="mi_imagen.jpg",
        model_type="general_x4",
        scale=4,
        output_width=1920,
        output_height=1080,
        face_enhance=False,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert list(body) == ["message", "image"] and body["message"] == PENDING
    image = body["image"]
    assert tuple(image) == FIELDS  # the manual's fields in the manual's order
    expected = {
        "original_filename": "mi_imagen.jpg",
        "original_width": 256,
        "original_height": 128,
        "enhanced_width": None,
        "enhanced_height": None,
        "model_type": "general_x4",
        "scale": 4,
        "output_width": 1920,
        "output_height": 1080,
        "face_enhance": False,
        "status": "pending",
        "processing_time_ms": None,
        "gpu_used": None,
        "completed_at": None,
        "original_base64": b64(raw),
        "enhanced_base64": None,
        "error_message": None,
    }
    assert {k: image[k] for k in expected} == expected
    assert len(image["created_at"]) == 19  # "2024-12-03T10:35:00"

    doc = await runtime.store.images.find_one({"_id": ObjectId(image["id"])})
    assert doc is not None and set(doc) == DOCUMENT_FIELDS
    assert doc["callback_url"] is None
    owner = await runtime.store.users.find_one({"username": user.username})
    assert owner is not None and doc["user_id"] == owner["_id"]
    assert (doc["original_format"], doc["original_content_type"]) == ("jpeg", "image/jpeg")
    assert doc["output_format"] == "png"
    assert await runtime.store.blobs.get(doc["original_blob"]) == raw
    info = await runtime.store.blobs.info(doc["original_blob"])
    assert (info.filename, info.content_type) == ("mi_imagen.jpg", "image/jpeg")
    assert info.metadata == {"image_id": ObjectId(image["id"]), "kind": "original"}

    message = await asyncio.wait_for(published.get(), 5)
    assert message == ImageJobSubmitted(
        image_id=image["id"],
        user_id=str(doc["user_id"]),
        original_blob=doc["original_blob"],
        model_type="general_x4",
        scale=4,
        output_width=1920,
        output_height=1080,
        face_enhance=False,
        output_format="png",
    )
    assert message.key() == f"image:{image['id']}"
    assert published.empty()


async def test_defaults_come_from_the_model_and_the_content(
    client: httpx.AsyncClient,
    user: SignedUp,
    runtime: Runtime,
    published: asyncio.Queue[ImageJobSubmitted],
) -> None:
    response = await submit(client, user, picture(40, 30, "WEBP"), model_type="general_x2")
    assert response.status_code == 202, response.text
    image = response.json()["image"]
    assert image["original_filename"] == "imagen.webp"
    assert (image["model_type"], image["scale"], image["face_enhance"]) == ("general_x2", 2, False)
    assert (image["output_width"], image["output_height"]) == (None, None)
    message = await asyncio.wait_for(published.get(), 5)
    assert (message.scale, message.output_format, message.output_width) == (2, "png", None)
    doc = await runtime.store.images.find_one({"_id": ObjectId(image["id"])})
    assert doc is not None and doc["original_content_type"] == "image/webp"


async def test_multipart_takes_the_image_field_and_form_fields(
    client: httpx.AsyncClient,
    user: SignedUp,
    runtime: Runtime,
    published: asyncio.Queue[ImageJobSubmitted],
) -> None:
    raw = picture(64, 48)
    response = await client.post(
        ENHANCE,
        headers=user.headers,
        files={"image": ("C:\\fotos\\vacaciones/playa.png", raw, "application/octet-stream")},
        data={"model_type": "anime", "scale": "2", "face_enhance": "true", "output_format": "JPG"},
    )
    assert response.status_code == 202, response.text
    image = response.json()["image"]
    assert image["original_filename"] == "playa.png"  # directories never kept
    assert (image["model_type"], image["scale"], image["face_enhance"]) == ("anime", 2, True)
    assert image["original_base64"] == b64(raw)
    message = await asyncio.wait_for(published.get(), 5)
    assert (message.face_enhance, message.output_format) == (True, "jpeg")


async def test_a_data_url_with_line_breaks_is_accepted(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    raw = picture(32, 32)
    encoded = b64(raw)
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    response = await client.post(
        ENHANCE,
        headers=user.headers,
        json={"image_base64": f"data:image/png;base64,{wrapped}", "filename": "a.png"},
    )
    assert response.status_code == 202, response.text
    doc = await runtime.store.images.find_one({"_id": ObjectId(response.json()["image"]["id"])})
    assert doc is not None
    assert await runtime.store.blobs.get(doc["original_blob"]) == raw


async def test_a_grayscale_alpha_16_bit_png_is_accepted(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    for mode in ("LA", "RGBA", "I;16", "P"):
        response = await submit(client, user, picture(16, 16, mode=mode), scale=2)
        assert response.status_code == 202, (mode, response.text)
