"""A 20 MB image through multipart and through base64 (a 26.7 MB body, under the default
64 MB limit): accepted, returned byte-identical, and no database document near 16 MB."""

from __future__ import annotations

import base64

import bson
import httpx
import pytest
from bson import ObjectId

from common.runtime import Runtime
from common.settings import Settings
from tests.ingress.conftest import SignedUp, make_settings
from tests.ingress.image_files import ENHANCE, noise_png

MB = 1024 * 1024
DOCUMENT_LIMIT = 16 * MB


@pytest.fixture
def settings() -> Settings:
    return make_settings(image_wait_seconds=0)  # the defaults otherwise: 64 MB bodies


@pytest.fixture(scope="module")
def big_png() -> bytes:
    raw = noise_png(20 * MB)
    assert 19.5 * MB < len(raw) < 21 * MB
    return raw


async def largest_document(runtime: Runtime) -> tuple[int, str]:
    """(size in BSON bytes, collection) of the largest document in the whole database."""
    db = runtime.store.db
    largest = (0, "")
    for name in await db.list_collection_names():
        async for doc in db[name].find():
            largest = max(largest, (len(bson.encode(doc)), name))
    return largest


async def check_stored(
    client: httpx.AsyncClient,
    user: SignedUp,
    runtime: Runtime,
    response: httpx.Response,
    raw: bytes,
) -> None:
    assert response.status_code == 202, response.text[:500]
    image = response.json()["image"]
    assert image["status"] == "pending"
    assert (image["original_width"], image["original_height"]) == (2643, 2643)
    original = await client.get(f"/api/images/{image['id']}/original", headers=user.headers)
    assert original.status_code == 200
    assert original.content == raw
    doc = await runtime.store.images.find_one({"_id": ObjectId(image["id"])})
    assert doc is not None and len(bson.encode(doc)) < 4096  # a reference, never the pixels


async def test_a_20_mb_image_through_multipart(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, big_png: bytes
) -> None:
    response = await client.post(
        ENHANCE,
        headers=user.headers,
        files={"file": ("ruido.png", big_png, "image/png")},
        data={"scale": "2"},
        timeout=120,
    )
    await check_stored(client, user, runtime, response, big_png)
    size, collection = await largest_document(runtime)
    assert size < DOCUMENT_LIMIT, collection


async def test_a_20_mb_image_through_base64(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, big_png: bytes
) -> None:
    body = {"image_base64": base64.b64encode(big_png).decode(), "filename": "ruido.png", "scale": 1}
    request = client.build_request("POST", ENHANCE, headers=user.headers, json=body, timeout=120)
    assert 26 * MB < int(request.headers["content-length"]) < 64 * MB
    response = await client.send(request)
    await check_stored(client, user, runtime, response, big_png)
    # The full GET carries the original back as base64 in the JSON body.
    view = (
        await client.get(
            f"/api/images/{response.json()['image']['id']}", headers=user.headers, timeout=120
        )
    ).json()["image"]
    assert base64.b64decode(view["original_base64"]) == big_png
    size, collection = await largest_document(runtime)
    assert size < DOCUMENT_LIMIT, collection
