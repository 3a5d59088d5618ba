"""Messages: a duplicate of every message type, early and late, changes nothing; poison
(garbage, unknown types, a chunk that is not a video) is dead-lettered with its job failed,
while the workers go on with other jobs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from common.contracts import (
    ChunkReady,
    ChunkUpscaled,
    ImageJobSubmitted,
    Message,
    VideoAssemble,
    VideoSubmitted,
)
from common.messaging import publish
from common.store.ids import utcnow
from tests.common.media.clips import make_clip
from tests.faults.harness import FINISHED, Faults
from tests.ingress.image_files import picture

pytestmark = pytest.mark.rabbitmq


def _copies(doc: dict[str, Any], records: list[dict[str, Any]]) -> list[Message]:
    """Every message the job's stages have sent so far, rebuilt from what they stored."""
    video_id, count = str(doc["_id"]), doc.get("chunk_count")
    options = {"model_type": doc["model_type"], "scale": doc["scale"]}
    found: list[Message] = [VideoSubmitted(video_id=video_id, user_id=str(doc["user_id"]),
                                           original_blob=doc["original_blob"], **options)]
    if not count:  # decode has not published the chunks yet (it counts them first)
        return found
    for record in records:
        index = record["index"]
        found.append(ChunkReady(video_id=video_id, chunk_index=index, chunk_count=count,
                                chunk_blob=record["chunk_blob"],
                                frame_count=record["frame_count"], **options))
        if record.get("upscaled_blob"):
            info = record["upscaled"]
            found.append(ChunkUpscaled(video_id=video_id, chunk_index=index, chunk_count=count,
                                       upscaled_blob=record["upscaled_blob"],
                                       frame_count=info["frames"], width=info["width"],
                                       height=info["height"]))
    if doc.get("chunks_encoded") == count:
        found.append(VideoAssemble(video_id=video_id, chunk_count=count))
    return found


async def test_duplicates_of_every_message_type_change_nothing(
    faults: Faults, tmp_path: Path
) -> None:
    headers = await faults.sign_up()
    video = await faults.submit_video(
        headers, make_clip(tmp_path / "dup.mp4", frames=32, gop=8, size=(128, 96)))
    sent: set[str] = set()
    last: list[Message] = []
    while True:  # every message, once more, as soon as its first copy can exist
        doc = await faults.job("video", video)
        assert doc is not None
        if doc["status"] in FINISHED:
            break
        records = await faults.store.chunks.find({"video_id": ObjectId(video)}).to_list()
        for message in _copies(doc, records):
            if message.key() not in sent:
                sent.add(message.key())
                faults.inject(f"duplicate {message.type}")
                await publish(faults.bus, message)
        last = _copies(doc, records)
        await asyncio.sleep(0.05)
    for message in last:  # and all of them again once the job is done
        faults.inject(f"late duplicate {message.type}")
        await publish(faults.bus, message)
    assert {m.type for m in last} >= {"video.submitted", "chunk.ready", "chunk.upscaled"}
    done = await faults.completed_exactly(video)
    await asyncio.sleep(2)  # time for the late copies to be handled
    assert await faults.job("video", video) == done  # nothing moved

    image = await faults.http.post("/api/images/enhance", headers=headers, files={
        "file": ("a.png", picture(48, 32), "image/png")}, data={"model_type": "anime_video"})
    assert image.status_code == 201, image.text
    image_id = image.json()["image"]["id"]
    faults.track("image", image_id, None)
    stored = await faults.job("image", image_id)
    assert stored is not None
    copy = ImageJobSubmitted(image_id=image_id, user_id=str(stored["user_id"]),
                             original_blob=stored["original_blob"], model_type="anime_video",
                             scale=4)
    faults.inject("late duplicate image.submitted")
    await publish(faults.bus, copy)
    await asyncio.sleep(2)
    assert await faults.job("image", image_id) == stored
    results = await faults.store.db["blobs.files"].count_documents(
        {"metadata.image_id": ObjectId(image_id), "metadata.kind": "enhanced"})
    assert results == 1


async def test_poison_messages_are_dead_lettered_and_other_jobs_go_on(
    faults: Faults, tmp_path: Path
) -> None:
    headers = await faults.sign_up()
    queues = ("decode", "upscale", "encode")
    before = {queue: len(await faults.bus.dead_letters(queue)) for queue in queues}
    # A job whose only chunk is not a video: its chunk can never be upscaled.
    poisoned = ObjectId()
    garbage = await faults.store.blobs.put(b"\x00" * 4096, filename="x.nut",
                                           metadata={"video_id": poisoned, "kind": "chunk"})
    now = utcnow()
    await faults.store.videos.insert_one({
        "_id": poisoned, "user_id": ObjectId(), "status": "in_progress", "created_at": now,
        "updated_at": now, "frames_processed": 0, "frame_count": 4, "chunk_count": 1,
        "original_filename": "p.mp4", "model_type": "anime_video", "scale": 2})
    await faults.store.chunks.insert_one({"video_id": poisoned, "index": 0,
                                          "chunk_blob": garbage, "frame_count": 4})
    faults.track("video", str(poisoned), None)
    for queue in queues:
        faults.inject(f"garbage on {queue}")
        await faults.bus.publish(queue, b"\xff not json", message_id=f"garbage-{queue}")
        faults.inject(f"unknown type on {queue}")
        await faults.bus.publish(queue, b'{"type": "video.exploded", "version": 1}',
                                 message_id=f"unknown-{queue}")
    faults.inject("chunk of a job that does not exist")
    await publish(faults.bus, ChunkReady(video_id=str(ObjectId()), chunk_index=0,
                                         chunk_count=1, chunk_blob=str(ObjectId()),
                                         frame_count=4, scale=2))
    faults.inject("poison chunk")
    await publish(faults.bus, ChunkReady(video_id=str(poisoned), chunk_index=0, chunk_count=1,
                                         chunk_blob=garbage, frame_count=4, scale=2))
    video = await faults.submit_video(
        headers, make_clip(tmp_path / "ok.mp4", frames=24, gop=8, size=(96, 64)))
    await faults.completed_exactly(video)
    failed = await faults.settled("video", str(poisoned))
    assert failed["status"] == "error" and "Error al procesar el video" in failed["error_message"]
    # Garbage and unknown types on each queue, and the poison chunk; the chunk of a job that
    # does not exist is simply dropped.
    for queue, added in (("decode", 2), ("upscale", 3), ("encode", 2)):
        async def buried(queue: str = queue, added: int = added) -> bool:
            return len(await faults.bus.dead_letters(queue)) == before[queue] + added

        await faults.until(buried, 60, f"{queue} dead letters")
    assert all(faults.deploy.running(name) for name in queues)
