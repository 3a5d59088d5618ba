"""Real jobs through the real stages (real anime_video weights, real media) end in webhooks:
an image's completion is delivered once, signed, with the finished image object; a video whose
receiver fails twice is delivered on the third try and completes exactly as without one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bson import ObjectId

from bench._support.webhooks import receiver
from common.contracts import ImageJobSubmitted
from common.jobs.views import image_summary, video_summary
from common.messaging import publish
from common.store import Store
from pipeline.decode.stage import STAGE as DECODE
from pipeline.encode.stage import STAGE as ENCODE
from pipeline.upscale.stage import STAGE as UPSCALE
from pipeline.webhooks.stage import STAGE as WEBHOOKS
from tests.common.media.clips import make_clip
from tests.pipeline.upscale.test_image_jobs import ASTRONAUT, create_image
from tests.pipeline.video_support import USER, anime_models, create_job, wait_for_status
from tests.pipeline.webhooks.conftest import StartStages
from tests.pipeline.webhooks.test_delivery import secret_of, settled_record

__all__ = ["anime_models"]  # the session fixture, imported so pytest finds it here


async def with_callback(store: Store, kind: str, job_id: str, url: str) -> None:
    jobs = store.images if kind == "image" else store.videos
    await jobs.update_one({"_id": ObjectId(job_id)}, {"$set": {"callback_url": url}})


async def test_a_real_image_completion_is_delivered_once(start: StartStages, store: Store,
                                                         anime_models: Path,
                                                         tmp_path: Path) -> None:
    await store.users.insert_one({"_id": USER, "username": "u", "is_active": True})
    with receiver() as hook:
        runtime = await start([UPSCALE, WEBHOOKS], models_dir=anime_models, data_dir=tmp_path,
                              precision="fp32", tile_size=0)
        job: ImageJobSubmitted = await create_image(store, ASTRONAUT, scale=2)
        await with_callback(store, "image", job.image_id, hook.url)
        await publish(runtime.bus, job)
        await publish(runtime.bus, job)  # a duplicate job message: still one webhook
        record = await settled_record(store, f"image:{job.image_id}:completed", within=120)
        await asyncio.sleep(1.0)
        (got,) = hook.received
    image = await store.images.find_one({"_id": ObjectId(job.image_id)})
    assert image is not None and image["status"] == "completed"
    assert record["status"] == "delivered" and got.answered == 200
    assert got.signed_by(await secret_of(runtime, USER))
    assert got.json["image"] == image_summary(image)
    assert (got.json["image"]["enhanced_width"], got.json["image"]["enhanced_height"]) == (80, 80)


async def test_a_real_video_is_delivered_on_the_third_try_and_unaffected(
        start: StartStages, store: Store, anime_models: Path, tmp_path: Path) -> None:
    await store.users.insert_one({"_id": USER, "username": "u", "is_active": True})
    clip = make_clip(tmp_path / "clip.mp4", frames=12, gop=4)
    with receiver(answers=[500, 502]) as hook:
        runtime = await start([DECODE, UPSCALE, ENCODE, WEBHOOKS], models_dir=anime_models,
                              data_dir=tmp_path, precision="fp32", tile_size=0,
                              video_chunk_seconds=0.25, video_preset="ultrafast")
        job = await create_job(store, clip, scale=1)
        await with_callback(store, "video", job.video_id, hook.url)
        await publish(runtime.bus, job)
        video = await wait_for_status(store, job.video_id, {"completed", "error"})
        record = await settled_record(store, f"video:{job.video_id}:completed", within=30)
        received = list(hook.received)
    assert video["status"] == "completed" and video["frames_processed"] == 12
    assert [r.answered for r in received] == [500, 502, 200]
    assert [a["status_code"] for a in record["attempts"]] == [500, 502, 200]
    final = await store.videos.find_one({"_id": ObjectId(job.video_id)})
    assert final == video, "failed deliveries leave the job as it was"
    assert received[-1].json["video"] == video_summary(video, video["completed_at"]) | {
        "processing_fps": None, "eta_seconds": None}
    assert received[-1].headers["X-Enhancer-Event"] == "video.completed"
