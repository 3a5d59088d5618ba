"""Ingress-wait tests: how POST /api/images/enhance answers once the worker has finished.

The real worker is not running here (the end-to-end suite runs it). A stand-in consumes the
upscale queue and writes the worker's outcome to the document (``image_files.complete`` /
``fail``), so these tests pin down only the ingress side: polling, 201, 500, 202.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
from bson import ObjectId

from common.bus import Delivery
from common.contracts import ImageJobSubmitted, decode
from common.jobs.notices import announce_finished
from common.runtime import Runtime
from common.settings import Settings
from ingress.images.documents import FIELDS
from tests.common.bus.support import eventually
from tests.image_samples import b64
from tests.ingress.conftest import SignedUp, make_settings
from tests.ingress.image_files import complete, fail, picture, submit

WAIT = 1.0
Outcome = Callable[[Runtime, str], Awaitable[object]]


@pytest.fixture
def settings() -> Settings:
    return make_settings(image_wait_seconds=WAIT)


async def stand_in_worker(runtime: Runtime, outcome: Outcome, delay: float = 0.2) -> None:
    """Consume the image lane; ``delay`` later, write ``outcome`` for the image."""

    async def on_upscale(delivery: Delivery) -> None:
        message = decode(delivery.body)
        assert isinstance(message, ImageJobSubmitted)
        await asyncio.sleep(delay)
        await outcome(runtime, message.image_id)

    await runtime.bus.consume("images", on_upscale)


async def test_a_result_within_the_wait_is_the_manuals_201(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    result = picture(128, 64)

    async def succeed(runtime: Runtime, image_id: str) -> None:
        await complete(runtime, image_id, result)

    await stand_in_worker(runtime, succeed)
    raw = picture(32, 16)
    response = await submit(client, user, raw, filename="mi_imagen.jpg", scale=4)
    assert response.status_code == 201, response.text
    body = response.json()
    assert list(body) == ["message", "image"]
    assert body["message"] == "Imagen procesada exitosamente"
    image = body["image"]
    assert tuple(image) == FIELDS
    assert image["status"] == "completed"
    assert (image["enhanced_width"], image["enhanced_height"]) == (128, 64)
    assert (image["original_base64"], image["enhanced_base64"]) == (b64(raw), b64(result))
    assert image["error_message"] is None and image["completed_at"] is not None


async def test_the_workers_notice_ends_the_wait_without_a_poll(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With polling pushed beyond the whole wait, only the worker's notice can turn the
    answer into a 201 (and it must come well before the poll would)."""
    import ingress.images.jobs as waiting

    monkeypatch.setattr(waiting, "_FIRST_POLL", 30.0)

    async def succeed_and_announce(runtime: Runtime, image_id: str) -> None:
        await complete(runtime, image_id, picture(128, 64))
        await announce_finished(runtime.bus, "image", image_id)

    await stand_in_worker(runtime, succeed_and_announce)
    started = time.monotonic()
    response = await submit(client, user, picture(32, 16), scale=4)
    assert response.status_code == 201, response.text
    assert time.monotonic() - started < WAIT


async def test_a_worker_failure_is_the_manuals_500(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    async def break_down(runtime: Runtime, image_id: str) -> None:
        await fail(runtime, image_id, "CUDA out of memory")

    await stand_in_worker(runtime, break_down)
    response = await submit(client, user, picture(16, 16))
    assert (response.status_code, response.json()) == (
        500,
        {"error": "Error procesando imagen: CUDA out of memory"},
    )
    listed = (await client.get("/api/images?status=failed", headers=user.headers)).json()
    assert listed["total"] == 1


async def test_when_the_wait_runs_out_the_answer_is_202_with_the_current_state(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    async def start_only(runtime: Runtime, image_id: str) -> None:
        await runtime.store.images.update_one(
            {"_id": ObjectId(image_id)}, {"$set": {"status": "processing"}}
        )

    await stand_in_worker(runtime, start_only, delay=0)
    began = time.monotonic()
    response = await submit(client, user, picture(16, 16))
    waited = time.monotonic() - began
    assert response.status_code == 202, response.text
    assert response.json()["message"] == (
        "Imagen recibida, procesamiento en curso. Consulte el estado con GET /api/images/{id}"
    )
    image = response.json()["image"]
    assert (image["status"], image["enhanced_base64"]) == ("processing", None)
    assert WAIT <= waited < WAIT + 2  # polled for the whole wait, then stopped


async def test_an_image_deleted_while_waited_for_is_404(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    async def delete_it(runtime: Runtime, image_id: str) -> None:
        response = await client.delete(f"/api/images/{image_id}", headers=user.headers)
        assert response.status_code == 200

    await stand_in_worker(runtime, delete_it)
    response = await submit(client, user, picture(16, 16))
    assert (response.status_code, response.json()) == (404, {"error": "Imagen no encontrada"})

    async def purged() -> bool:  # the DELETE request may still be removing the blobs
        return await runtime.store.db["blobs.files"].count_documents({}) == 0

    await eventually(purged, within=5)
