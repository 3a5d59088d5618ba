"""The watchdog on the real database and the durable bus (and the memory bus's fallback).

Jobs are made as the API makes them (``create_image``/``create_job``), then aged; the watchdog
must re-drive exactly the quiet ones with no message, fail what it cannot re-drive, and leave
everything else alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from bson import ObjectId

from common.bus import DatabaseBus, MemoryBus
from common.bus.port import Bus
from common.contracts import ImageJobSubmitted, VideoSubmitted, decode
from common.jobs import fields as F
from common.jobs.watchdog import MAX_REDRIVES, Watched, watch
from common.messaging import publish
from common.metrics import WATCHDOG_JOBS
from common.runtime import Runtime
from common.settings import Settings
from common.store import Store
from common.store.ids import utcnow
from tests.common.media.clips import make_clip
from tests.image_samples import photo
from tests.pipeline.upscale.test_image_jobs import create_image
from tests.pipeline.video_support import create_job

STALL = timedelta(minutes=5)


@pytest.fixture(params=["database", "memory"])
async def runtime(request: pytest.FixtureRequest, store: Store) -> AsyncIterator[Runtime]:
    bus: Bus = (DatabaseBus(store.db, namespace="watch") if request.param == "database"
                else MemoryBus(namespace="watch"))
    await bus.start()
    settings = Settings(_env_file=None, jwt_secret_key="k" * 40)  # type: ignore[call-arg]
    yield Runtime(settings=settings, store=store, bus=bus, embedded=True)
    await bus.close()


async def aged(store: Store, kind: str, job_id: str, **fields: object) -> None:
    jobs = store.images if kind == "image" else store.videos
    await jobs.update_one({F.ID: ObjectId(job_id)},
                          {"$set": {F.UPDATED_AT: utcnow() - 2 * STALL, **fields}})


async def queued(runtime: Runtime, queue: str) -> list[bytes]:
    """Take every message waiting in ``queue`` (the test plays the stage)."""
    bodies: list[bytes] = []
    if isinstance(runtime.bus, MemoryBus):
        state = runtime.bus._queue(queue)
        bodies = [m.body for m in state.ready]
        state.ready.clear()
        return bodies
    while (taken := await runtime.bus._queues.take(f"watch.{queue}")) is not None:
        bodies.append(taken.body)
    return bodies


def redriven(kind: str) -> float:
    return WATCHDOG_JOBS.labels(kind, "redriven")._value.get()


async def test_a_quiet_image_without_a_message_is_redriven(runtime: Runtime) -> None:
    job = await create_image(runtime.store, photo(32, 32), model_type="anime_video",
                             output_format="webp")
    await aged(runtime.store, "image", job.image_id, **{F.STATUS: "processing"})
    before = redriven("image")
    assert await watch(runtime, stall=STALL) == Watched(redriven=1)
    (body,) = await queued(runtime, "images")
    assert decode(body) == job  # the message that started it, rebuilt from the document
    doc = await runtime.store.images.find_one({F.ID: ObjectId(job.image_id)})
    assert doc is not None and doc[F.WATCHDOG_REDRIVES] == 1 and doc[F.STATUS] == "processing"
    assert redriven("image") == before + 1
    # Its new updated_at gives the message a whole stall period: nothing more now.
    assert await watch(runtime, stall=STALL) == Watched()


async def test_a_quiet_video_is_redriven_from_its_first_message(runtime: Runtime,
                                                                tmp_path: Path) -> None:
    job = await create_job(runtime.store, make_clip(tmp_path / "c.mp4", frames=6))
    await aged(runtime.store, "video", job.video_id, **{F.STATUS: "in_progress"})
    assert await watch(runtime, stall=STALL) == Watched(redriven=1)
    (body,) = await queued(runtime, "decode")
    assert decode(body) == job


async def test_jobs_that_moved_recently_or_have_a_message_are_left_alone(
        runtime: Runtime) -> None:
    fresh = await create_image(runtime.store, photo(32, 32), model_type="anime_video")
    waiting = await create_image(runtime.store, photo(32, 32), model_type="anime_video")
    await aged(runtime.store, "image", waiting.image_id)
    await publish(runtime.bus, waiting)
    assert await watch(runtime, stall=STALL) == Watched()
    # The memory bus cannot be searched: a ready message on the lane holds every quiet job
    # back (as on RabbitMQ); the durable bus knows it is this job's message.
    assert [decode(b) for b in await queued(runtime, "images")] == [waiting]
    for job in (fresh, waiting):
        doc = await runtime.store.images.find_one({F.ID: ObjectId(job.image_id)})
        assert doc is not None and F.WATCHDOG_REDRIVES not in doc


async def test_a_job_redriven_too_often_or_without_its_original_is_failed(
        runtime: Runtime, tmp_path: Path) -> None:
    tired = await create_image(runtime.store, photo(32, 32), model_type="anime_video")
    await aged(runtime.store, "image", tired.image_id, **{F.WATCHDOG_REDRIVES: MAX_REDRIVES})
    lost = await create_job(runtime.store, make_clip(tmp_path / "c.mp4", frames=6))
    await runtime.store.blobs.delete(lost.original_blob)
    await aged(runtime.store, "video", lost.video_id)
    assert await watch(runtime, stall=STALL) == Watched(failed=2)
    image = await runtime.store.images.find_one({F.ID: ObjectId(tired.image_id)})
    video = await runtime.store.videos.find_one({F.ID: ObjectId(lost.video_id)})
    assert image is not None and video is not None
    assert (image[F.STATUS], image[F.ERROR_MESSAGE]) == (
        "failed", "Error procesando imagen: el trabajo quedó detenido y no pudo reanudarse "
                  f"tras {MAX_REDRIVES} intentos; envíelo de nuevo")
    assert (video[F.STATUS], video[F.ERROR_MESSAGE]) == (
        "error", "Error al procesar el video: el trabajo quedó detenido y su archivo original "
                 "ya no está disponible")
    assert await queued(runtime, "images") == [] and await queued(runtime, "decode") == []


def test_rebuilt_messages_are_the_submitted_ones() -> None:
    """Guard for the rebuild: every field a submission message has is one the watchdog
    copies from the document (a new field must be stored and copied too)."""
    copied = {"image_id", "video_id", "user_id", "original_blob", "model_type", "scale",
              "face_enhance", "output_width", "output_height", "output_format"}
    envelope = {"type", "version"}
    for message in (ImageJobSubmitted, VideoSubmitted):
        assert set(message.model_fields) - envelope <= copied, message
