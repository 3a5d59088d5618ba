"""Image jobs through the real upscale stage on the in-process bus, with real weights: the
document and result a job leaves, idempotence (duplicates, racing twins, killed attempts),
cancellation, and failures that fail the image but not the worker."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bson import ObjectId
from PIL import Image
from skimage import data as samples

from common.bus.memory import MemoryBus
from common.contracts import ImageJobSubmitted
from common.messaging import publish
from common.sizing import planned_size
from common.store import Store
from common.store.ids import utcnow
from pipeline.upscale.enhancer import LazyEnhancer, UpscaleContext
from pipeline.upscale.image_jobs import handle_image_submitted, short_reason
from pipeline.upscale.stage import STAGE as UPSCALE
from tests.common.bus.support import eventually
from tests.image_models import MISSING_MODEL, OFFLINE_WEIGHTS, image_models, private_copy
from tests.pipeline.video_support import USER, running_stages, video_settings

__all__ = ["image_models"]  # the fixture, imported so pytest finds it here

FAST = "anime_video"  # the small real model: most tests are about the job, not the pixels


def png_bytes(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


ASTRONAUT = png_bytes(np.ascontiguousarray(samples.astronaut()[90:130, 170:210]))  # 40×40
CAT = png_bytes(np.ascontiguousarray(samples.chelsea()[60:92, 200:248]))  # 48×32


async def create_image(store: Store, data: bytes, *, model_type: str = FAST, scale: int = 2,
                       user: ObjectId = USER, **options: Any) -> ImageJobSubmitted:
    """Store the original and insert the document as ingress does (design note), pending."""
    image_id = ObjectId()
    blob = await store.blobs.put(data, filename="imagen.png", content_type="image/png",
                                 metadata={"image_id": image_id, "kind": "original"})
    width, height = Image.open(io.BytesIO(data)).size
    now = utcnow()
    job = ImageJobSubmitted(image_id=str(image_id), user_id=str(user), original_blob=blob,
                            model_type=model_type, scale=scale,  # type: ignore[arg-type]
                            **options)
    await store.images.insert_one({
        "_id": image_id, "user_id": user, "original_filename": "imagen.png",
        "original_blob": blob, "original_format": "png", "original_content_type": "image/png",
        "original_width": width, "original_height": height, "model_type": model_type,
        "scale": scale, "output_width": job.output_width, "output_height": job.output_height,
        "output_format": job.output_format, "face_enhance": job.face_enhance,
        "status": "pending", "enhanced_blob": None, "enhanced_width": None,
        "enhanced_height": None, "processing_time_ms": None, "gpu_used": None,
        "error_message": None, "created_at": now, "updated_at": now, "started_at": None,
        "completed_at": None,
    })
    return job


async def settled(store: Store, image_id: str, within: float = 120.0) -> dict[str, Any]:
    async def done() -> bool:
        doc = await store.images.find_one({"_id": ObjectId(image_id)})
        return doc is not None and doc["status"] in {"completed", "failed"}

    await eventually(done, within=within)
    doc = await store.images.find_one({"_id": ObjectId(image_id)})
    assert doc is not None
    return doc


async def enhanced_blobs(store: Store, image_id: str) -> list[str]:
    found = store.db["blobs.files"].find({"metadata.image_id": ObjectId(image_id),
                                          "metadata.kind": "enhanced"}, {"_id": 1})
    return [str(doc["_id"]) async for doc in found]


def drained(bus: MemoryBus) -> bool:
    return not bus._queue("images").ready and not bus._busy


async def stray_result(store: Store, image_id: str) -> str:
    """What a worker killed between storing its result and recording it leaves behind."""
    return await store.blobs.put(ASTRONAUT, filename=f"{image_id}-enhanced.png",
                                 content_type="image/png",
                                 metadata={"image_id": ObjectId(image_id), "kind": "enhanced"})


async def test_job_completes_with_general_x4(store: Store, tmp_path: Path,
                                             image_models: Path) -> None:
    job = await create_image(store, ASTRONAUT, model_type="general_x4", scale=4)
    async with running_stages(store, video_settings(tmp_path, image_models), [UPSCALE]) as rt:
        await publish(rt.bus, job)
        doc = await settled(store, job.image_id)
        assert await rt.bus.dead_letters("images") == []
    assert doc["status"] == "completed", doc["error_message"]
    assert (doc["enhanced_width"], doc["enhanced_height"]) == (160, 160)
    assert doc["gpu_used"] is False and doc["error_message"] is None
    assert isinstance(doc["processing_time_ms"], int) and doc["processing_time_ms"] > 0
    assert doc["created_at"] <= doc["started_at"] <= doc["completed_at"]
    info = await store.blobs.info(doc["enhanced_blob"])
    assert info.content_type == "image/png"
    assert info.metadata == {"image_id": ObjectId(job.image_id), "kind": "enhanced"}
    result = Image.open(io.BytesIO(await store.blobs.get(doc["enhanced_blob"])))
    assert (result.format, result.size, result.mode) == ("PNG", (160, 160), "RGB")
    assert await enhanced_blobs(store, job.image_id) == [doc["enhanced_blob"]]
    assert await store.blobs.exists(job.original_blob)


async def test_output_size_and_format_follow_the_message(store: Store, tmp_path: Path,
                                                         image_models: Path) -> None:
    job = await create_image(store, CAT, scale=3, output_width=100, output_format="webp")
    async with running_stages(store, video_settings(tmp_path, image_models), [UPSCALE]) as rt:
        await publish(rt.bus, job)
        doc = await settled(store, job.image_id)
    assert doc["status"] == "completed", doc["error_message"]
    planned = planned_size(48, 32, 3, 100, None)
    assert (doc["enhanced_width"], doc["enhanced_height"]) == planned
    assert (await store.blobs.info(doc["enhanced_blob"])).content_type == "image/webp"
    result = Image.open(io.BytesIO(await store.blobs.get(doc["enhanced_blob"])))
    assert (result.format, result.size) == ("WEBP", planned)


async def test_duplicate_after_completion_stores_nothing(store: Store, tmp_path: Path,
                                                         image_models: Path) -> None:
    job = await create_image(store, CAT)
    async with running_stages(store, video_settings(tmp_path, image_models), [UPSCALE]) as rt:
        await publish(rt.bus, job)
        first = await settled(store, job.image_id)
        await publish(rt.bus, job)  # redelivered / published twice: same message, same id
        await publish(rt.bus, job)
        bus = rt.bus
        assert isinstance(bus, MemoryBus)
        await eventually(lambda: drained(bus), within=30)
        assert await bus.dead_letters("images") == []
    assert first["status"] == "completed"
    assert await store.images.find_one({"_id": ObjectId(job.image_id)}) == first
    assert await enhanced_blobs(store, job.image_id) == [first["enhanced_blob"]]


async def test_job_deleted_before_handling_leaves_no_blob(store: Store, tmp_path: Path,
                                                          image_models: Path) -> None:
    job = await create_image(store, CAT)
    await stray_result(store, job.image_id)
    # What DELETE /api/images/{id} does: the document first, then its blobs.
    await store.images.delete_one({"_id": ObjectId(job.image_id)})
    await store.blobs.delete(job.original_blob)
    async with running_stages(store, video_settings(tmp_path, image_models), [UPSCALE]) as rt:
        await publish(rt.bus, job)
        bus = rt.bus
        assert isinstance(bus, MemoryBus)
        await eventually(lambda: drained(bus), within=30)
        assert await bus.dead_letters("images") == []
    assert await enhanced_blobs(store, job.image_id) == []


@asynccontextmanager
async def held_engine(engine: LazyEnhancer) -> AsyncIterator[threading.Event]:
    """Occupy the engine thread until the event is set, so enhancements queue behind it."""
    gate = threading.Event()
    engine.executor.submit(gate.wait)
    try:
        yield gate
    finally:
        gate.set()
        await asyncio.to_thread(engine.executor.shutdown)


async def test_document_deleted_during_enhancement_drops_the_result(
    store: Store, tmp_path: Path, image_models: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job = await create_image(store, CAT)
    async with running_stages(store, video_settings(tmp_path, image_models), []) as rt:
        engine = LazyEnhancer(rt.settings)
        caplog.set_level(logging.INFO, logger="pipeline.upscale.image_jobs")
        async with held_engine(engine) as gate:
            task = asyncio.create_task(handle_image_submitted(UpscaleContext(rt, engine), job))
            await eventually(lambda: engine.executor._work_queue.qsize() == 1, within=30)
            await store.images.delete_one({"_id": ObjectId(job.image_id)})
            gate.set()
            await task
    assert "deleted or completed by another delivery" in caplog.text
    assert await enhanced_blobs(store, job.image_id) == []


async def test_racing_twins_store_one_result(store: Store, tmp_path: Path,
                                             image_models: Path) -> None:
    job = await create_image(store, CAT)
    async with running_stages(store, video_settings(tmp_path, image_models), []) as rt:
        engine = LazyEnhancer(rt.settings)
        async with held_engine(engine) as gate:
            # Both deliveries get past the status check before either enhances.
            twins = [asyncio.create_task(handle_image_submitted(UpscaleContext(rt, engine), job))
                     for _ in range(2)]
            await eventually(lambda: engine.executor._work_queue.qsize() == 2, within=30)
            gate.set()
            await asyncio.gather(*twins)
    doc = await store.images.find_one({"_id": ObjectId(job.image_id)})
    assert doc is not None and doc["status"] == "completed"
    assert await enhanced_blobs(store, job.image_id) == [doc["enhanced_blob"]]


async def test_killed_attempt_leftover_is_removed_on_completion(store: Store, tmp_path: Path,
                                                                image_models: Path) -> None:
    job = await create_image(store, CAT)
    # The killed attempt had moved the job to processing and stored a result it never recorded.
    await store.images.update_one({"_id": ObjectId(job.image_id)},
                                  {"$set": {"status": "processing", "started_at": utcnow()}})
    leftover = await stray_result(store, job.image_id)
    async with running_stages(store, video_settings(tmp_path, image_models), [UPSCALE]) as rt:
        await publish(rt.bus, job)
        doc = await settled(store, job.image_id)
    assert doc["status"] == "completed", doc["error_message"]
    assert doc["enhanced_blob"] != leftover
    assert await enhanced_blobs(store, job.image_id) == [doc["enhanced_blob"]]
    assert await store.blobs.exists(job.original_blob)


async def test_failing_job_fails_its_image_and_the_worker_goes_on(
    store: Store, tmp_path: Path, image_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in OFFLINE_WEIGHTS.items():
        monkeypatch.setenv(name, value)
    failing = await create_image(store, CAT, model_type=MISSING_MODEL)
    healthy = await create_image(store, ASTRONAUT)
    models = private_copy(image_models, tmp_path)
    async with running_stages(store, video_settings(tmp_path, models), [UPSCALE]) as rt:
        await publish(rt.bus, failing)
        await publish(rt.bus, healthy)
        failed = await settled(store, failing.image_id)
        done = await settled(store, healthy.image_id)
        bus = rt.bus
        assert isinstance(bus, MemoryBus)
        await eventually(lambda: drained(bus), within=30)
        dead = await bus.dead_letters("images")
    assert failed["status"] == "failed"
    message = failed["error_message"]
    assert message.startswith("Error procesando imagen: Modelo general_x2 no disponible: "
                               "faltan sus pesos (RealESRGAN_x2plus.pth)")
    # Kept whole (not cut at 300 characters like other reasons): it names the commands.
    assert " fetch general_x2 " in message and " import general_x2 " in message
    assert "\n" not in message and len(message) <= len("Error procesando imagen: ") + 1000
    assert failed["error_code"] == "model_unavailable"  # the API answers 503 for it
    assert failed["enhanced_blob"] is None and failed["completed_at"] is None
    assert await enhanced_blobs(store, failing.image_id) == []
    # Dead-lettered at once (retrying cannot bring the weights), so operators see it.
    assert [(d.message_id, d.headers["x-death-reason"]) for d in dead] == [
        (f"image:{failing.image_id}", "rejected")]
    assert done["status"] == "completed", done["error_message"]
    assert (done["enhanced_width"], done["enhanced_height"]) == (80, 80)


async def test_give_up_hook_fails_the_image_or_the_video(store: Store, tmp_path: Path,
                                                         image_models: Path) -> None:
    from common.contracts import VideoSubmitted

    job = await create_image(store, CAT)
    stray = await stray_result(store, job.image_id)
    video_id = ObjectId()
    await store.videos.insert_one({"_id": video_id, "status": "in_progress"})
    video = VideoSubmitted(video_id=str(video_id), user_id=str(USER),
                           original_blob=job.original_blob, scale=2)
    assert UPSCALE.on_give_up is not None
    async with running_stages(store, video_settings(tmp_path, image_models), []) as rt:
        await UPSCALE.on_give_up(rt, job, "boom (falló 2 veces; mensaje descartado)\ntrace")
        await UPSCALE.on_give_up(rt, job, "a second call changes nothing")
        await UPSCALE.on_give_up(rt, video, "boom")
    doc = await store.images.find_one({"_id": ObjectId(job.image_id)})
    assert doc is not None and doc["status"] == "failed"
    assert doc["error_message"] == ("Error procesando imagen: boom (falló 2 veces; "
                                    "mensaje descartado)")
    assert not await store.blobs.exists(stray)
    other = await store.videos.find_one({"_id": video_id})
    assert other is not None and other["status"] == "error"
    assert other["error_message"] == "Error al procesar el video: boom"


async def test_give_up_after_completion_keeps_the_result(store: Store, tmp_path: Path,
                                                         image_models: Path) -> None:
    job = await create_image(store, CAT)
    async with running_stages(store, video_settings(tmp_path, image_models), []) as rt:
        # The completing delivery failed after its commit (say, the database went away during
        # its clean-up), and that was the message's last try.
        await handle_image_submitted(UpscaleContext.open(rt), job)
        stray = await stray_result(store, job.image_id)
        assert UPSCALE.on_give_up is not None
        await UPSCALE.on_give_up(rt, job, "late failure")
    doc = await store.images.find_one({"_id": ObjectId(job.image_id)})
    assert doc is not None and doc["status"] == "completed" and doc["error_message"] is None
    assert await enhanced_blobs(store, job.image_id) == [doc["enhanced_blob"]]
    assert not await store.blobs.exists(stray)


async def test_delete_where_can_keep_one_blob(store: Store) -> None:
    ids = [await store.blobs.put(b"x", filename="r.png",
                                 metadata={"image_id": "i1", "kind": "enhanced"})
           for _ in range(3)]
    other = await store.blobs.put(b"x", filename="o.png",
                                  metadata={"image_id": "i2", "kind": "enhanced"})
    assert await store.blobs.delete_where(image_id="i1", kind="enhanced", keep=ids[1]) == 2
    assert [await store.blobs.exists(i) for i in ids] == [False, True, False]
    assert await store.blobs.exists(other)
    assert await store.blobs.delete_where(image_id="i1", keep=ids[1]) == 0


def test_other_failure_reasons_are_cut_to_their_first_line_and_300_characters() -> None:
    assert short_reason("x" * 500 + "\nTraceback ...") == "x" * 300
    assert short_reason("  \n") == "error desconocido"


async def test_an_output_its_format_cannot_hold_fails_at_once_without_the_model(
    store: Store, tmp_path: Path, image_models: Path
) -> None:
    # What the API refuses up front (a WEBP 16384 px wide), sent straight to the worker: it
    # fails on the first attempt, before the model runs, instead of four encoder failures.
    job = await create_image(store, CAT, output_width=16384, output_height=8,
                             output_format="webp")
    async with running_stages(store, video_settings(tmp_path, image_models), [UPSCALE]) as rt:
        await publish(rt.bus, job)
        failed = await settled(store, job.image_id)
        bus = rt.bus
        assert isinstance(bus, MemoryBus)
        await eventually(lambda: drained(bus), within=30)
        dead = await bus.dead_letters("images")
    assert failed["error_message"] == (
        "Error procesando imagen: La imagen de salida (16384x8) supera el máximo de 16383 "
        "píxeles por lado del formato WEBP; use output_format png o un tamaño menor")
    assert [(d.message_id, d.headers["x-death-reason"]) for d in dead] == [
        (f"image:{job.image_id}", "rejected")]
    assert await enhanced_blobs(store, job.image_id) == []
