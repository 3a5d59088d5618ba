"""Video jobs through the three real stage handlers on the in-process bus, real anime_video
weights: completion, exactly-once progress, cancellation, failure → error + dead letter."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from bson import ObjectId, json_util

from common.bus.memory import MemoryBus
from common.contracts import ChunkReady, ChunkUpscaled, VideoSubmitted
from common.messaging import publish
from common.settings import Settings
from common.store import Store
from common.store.s3_blobs import S3BlobStore
from pipeline.decode.stage import STAGE as DECODE
from pipeline.encode.stage import STAGE as ENCODE
from pipeline.upscale.stage import STAGE as UPSCALE
from tests.common.bus.support import eventually
from tests.common.media.clips import (
    MS,
    audio_packets_md5,
    frame_times,
    make_clip,
    stream_summary,
    timing_error,
)
from tests.pipeline.video_support import (
    anime_models,
    create_job,
    running_stages,
    temp_blob_count,
    video_settings,
    wait_for_status,
)

__all__ = ["anime_models"]  # the fixture, imported so pytest finds it here


async def test_job_completes_with_the_real_model(store: Store, tmp_path: Path,
                                                 anime_models: Path) -> None:
    source = make_clip(tmp_path / "tiny.mp4", frames=12, gop=4)
    settings = video_settings(tmp_path, anime_models, video_chunk_seconds=0.12)
    message = await create_job(store, source, scale=2)
    heard: list[bytes] = []
    async with running_stages(store, settings, [DECODE, UPSCALE, ENCODE]) as runtime:
        await runtime.bus.listen(heard.append)
        await publish(runtime.bus, message)
        video = await wait_for_status(store, message.video_id, {"completed", "error"})
        # Its end is announced (event streams end on it instead of at their next poll).
        await eventually(lambda: bool(heard), within=10)
    assert video["status"] == "completed", video.get("error_message")
    assert heard == [f"finished:video:{message.video_id}".encode()]
    assert video["chunk_count"] >= 2
    assert video["frames_processed"] == video["frame_count"] == 12
    assert (video["enhanced_width"], video["enhanced_height"]) == (128, 96)
    assert video["gpu_used"] is False and video["processing_time_ms"] > 0
    assert video["started_at"] is not None and video["completed_at"] is not None
    output = tmp_path / "out.mkv"
    output.write_bytes(await store.blobs.get(video["enhanced_blob"]))
    summary = stream_summary(output)
    assert (summary["format"], summary["codec"]) == ("matroska,webm", "h264")
    assert (summary["width"], summary["height"]) == (128, 96)
    assert summary["rate"] == Fraction(30000, 1001)
    assert len(frame_times(output)) == 12 and timing_error(source, output) <= MS
    assert audio_packets_md5(output) == audio_packets_md5(source)
    # Temporary blobs and chunk records are gone; the original and the result stay.
    assert await temp_blob_count(store, message.video_id) == 0
    assert await store.chunks.count_documents({"video_id": ObjectId(message.video_id)}) == 0
    assert await store.blobs.exists(video["original_blob"])


async def test_duplicate_chunk_messages_change_nothing(store: Store, tmp_path: Path,
                                                       anime_models: Path) -> None:
    source = make_clip(tmp_path / "dup.mkv", frames=12, gop=4, audio=False)
    settings = video_settings(tmp_path, anime_models, video_chunk_seconds=0.12)
    message = await create_job(store, source, scale=2)
    bus = MemoryBus(delivery_limit=3)
    await _decode_only(store, settings, bus, message)
    records = [r async for r in store.chunks.find({"video_id": ObjectId(message.video_id)})]
    assert len(records) >= 2
    # Every ChunkReady once more (same content, same message id), before any is consumed.
    video = await store.videos.find_one({"_id": ObjectId(message.video_id)})
    assert video is not None
    for record in records:
        await publish(bus, ChunkReady(
            video_id=message.video_id, chunk_index=record["index"],
            chunk_count=len(records), chunk_blob=record["chunk_blob"],
            frame_count=record["frame_count"], model_type="anime_video", scale=2))
    async with running_stages(store, settings, [UPSCALE, ENCODE], bus=bus):
        video = await wait_for_status(store, message.video_id, {"completed", "error"})
        # Late duplicates after completion are dropped too.
        await publish(bus, ChunkUpscaled(
            video_id=message.video_id, chunk_index=0, chunk_count=len(records),
            upscaled_blob=records[0]["chunk_blob"], frame_count=1, width=128, height=96))
    assert video["status"] == "completed", video.get("error_message")
    assert video["frames_processed"] == video["frame_count"] == 12
    assert video["chunks_encoded"] == len(records)
    output = tmp_path / "out.mkv"
    output.write_bytes(await store.blobs.get(video["enhanced_blob"]))
    assert len(frame_times(output)) == 12
    assert len(set(frame_times(output))) == 12
    assert await bus.dead_letters("upscale") == [] and await bus.dead_letters("encode") == []


async def _decode_only(
    store: Store, settings: Settings, bus: MemoryBus, message: VideoSubmitted
) -> None:
    """Run just the decode stage until the job is split, leaving its chunk messages queued."""
    async with running_stages(store, settings, [DECODE], bus=bus) as runtime:
        await publish(runtime.bus, message)
        await eventually(lambda: _chunked(store, message.video_id), within=60)


async def _chunked(store: Store, video_id: str) -> bool:
    video = await store.videos.find_one({"_id": ObjectId(video_id)})
    return bool(video and video.get("chunk_count"))


async def test_cancelled_job_drops_its_messages_and_blobs(store: Store, tmp_path: Path,
                                                          anime_models: Path) -> None:
    source = make_clip(tmp_path / "gone.mp4", frames=12, gop=4)
    settings = video_settings(tmp_path, anime_models, video_chunk_seconds=0.12)
    message = await create_job(store, source, scale=2)
    bus = MemoryBus(delivery_limit=3)
    await _decode_only(store, settings, bus, message)
    assert await temp_blob_count(store, message.video_id) >= 2
    # What DELETE /api/videos/{id} does: the document first.
    await store.videos.delete_one({"_id": ObjectId(message.video_id)})
    async with running_stages(store, settings, [UPSCALE, ENCODE], bus=bus):
        await eventually(lambda: _drained(bus), within=60)
    assert await temp_blob_count(store, message.video_id) == 0
    assert await store.chunks.count_documents({"video_id": ObjectId(message.video_id)}) == 0
    assert await bus.dead_letters("upscale") == []


def _drained(bus: MemoryBus) -> bool:
    queues = [bus._queue(name) for name in ("upscale", "encode")]
    return all(not q.ready for q in queues) and not bus._busy


async def test_poison_chunk_fails_the_job_and_is_dead_lettered(
    store: Store, tmp_path: Path, anime_models: Path
) -> None:
    source = make_clip(tmp_path / "poison.mp4", frames=12, gop=4)
    other_source = make_clip(tmp_path / "fine.mp4", frames=8, gop=4, audio=False)
    settings = video_settings(tmp_path, anime_models, video_chunk_seconds=0.12)
    poisoned = await create_job(store, source, scale=2)
    healthy = await create_job(store, other_source, scale=2)
    bus = MemoryBus(delivery_limit=3)
    await _decode_only(store, settings, bus, poisoned)
    # Overwrite chunk 1's stored bytes with zeros: a blob that is not a video any more.
    record = await store.chunks.find_one({"video_id": ObjectId(poisoned.video_id), "index": 1})
    assert record is not None
    async for piece in store.db["blobs.chunks"].find({"files_id": ObjectId(record["chunk_blob"])}):
        await store.db["blobs.chunks"].update_one(
            {"_id": piece["_id"]}, {"$set": {"data": bytes(len(piece["data"]))}})
    async with running_stages(store, settings, [DECODE, UPSCALE, ENCODE], bus=bus) as runtime:
        await publish(runtime.bus, healthy)
        failed = await wait_for_status(store, poisoned.video_id, {"error", "completed"})
        done = await wait_for_status(store, healthy.video_id, {"error", "completed"})
        await eventually(lambda: _drained(bus), within=60)
    assert failed["status"] == "error"
    # A stored chunk that cannot be read fails the same way every time: on the first attempt,
    # saying which chunk and why, and naming no file of the worker's disk.
    assert failed["error_message"] == (
        "Error al procesar el video: fragmento 1: el fragmento no se puede leer "
        "(Invalid data found when processing input)")
    dead = await bus.dead_letters("upscale")
    assert [d.message_id for d in dead] == [f"video:{poisoned.video_id}:chunk:1:ready"]
    assert [d.headers["x-death-reason"] for d in dead] == ["rejected"]
    assert done["status"] == "completed" and done["frames_processed"] == 8
    assert await temp_blob_count(store, poisoned.video_id) == 0
    assert await store.chunks.count_documents({"video_id": ObjectId(poisoned.video_id)}) == 0


async def test_not_a_video_fails_at_decode_without_retries(store: Store, tmp_path: Path,
                                                           anime_models: Path) -> None:
    source = make_clip(tmp_path / "ok.mp4", frames=6, audio=False)
    settings = video_settings(tmp_path, anime_models)
    message = await create_job(store, source, scale=2)
    # The stored original turns out to be garbage (e.g. corrupted after the probe).
    await store.blobs.delete(message.original_blob)
    garbage = await store.blobs.put(b"\x00" * 4096, filename="ok.mp4")
    message = message.model_copy(update={"original_blob": garbage})
    async with running_stages(store, settings, [DECODE]) as runtime:
        await publish(runtime.bus, message)
        video = await wait_for_status(store, message.video_id, {"error", "completed"})
        # The job fails first (give-up hook), then the bus dead-letters the message.
        bus = runtime.bus

        async def buried() -> bool:
            return bool(await bus.dead_letters("decode"))

        await eventually(buried, within=10)
        dead = await bus.dead_letters("decode")
    assert video["status"] == "error" and "no soportado" in video["error_message"]
    assert [d.headers["x-death-reason"] for d in dead] == ["rejected"]


async def test_job_on_object_storage_leaves_nothing_in_gridfs(s3_store: Store, tmp_path: Path,
                                                              anime_models: Path) -> None:
    """BLOB_STORE_URL → the S3 test server (moto): every byte of the job, originals,
    intermediates and result, goes through object storage, none through GridFS."""
    blobs = s3_store.blobs
    assert isinstance(blobs, S3BlobStore)
    client = blobs.bucket.client
    # Versioning keeps a trace of every object ever written, temporaries deleted included.
    client.put_bucket_versioning(Bucket=blobs.where.bucket,
                                 VersioningConfiguration={"Status": "Enabled"})
    source = make_clip(tmp_path / "s3.mp4", frames=12, gop=4)
    settings = video_settings(tmp_path, anime_models, video_chunk_seconds=0.12)
    message = await create_job(s3_store, source, scale=2)
    async with running_stages(s3_store, settings, [DECODE, UPSCALE, ENCODE]) as runtime:
        await publish(runtime.bus, message)
        video = await wait_for_status(s3_store, message.video_id, {"completed", "error"})
    assert video["status"] == "completed", video.get("error_message")
    assert video["frames_processed"] == video["frame_count"] == 12
    output = tmp_path / "out.mkv"
    output.write_bytes(await blobs.get(video["enhanced_blob"]))
    assert len(frame_times(output)) == 12 and timing_error(source, output) <= MS
    assert audio_packets_md5(output) == audio_packets_md5(source)
    # Nothing of the job in GridFS, not even a chunk of a killed upload.
    for collection in ("blobs.files", "blobs.chunks"):
        assert await s3_store.db[collection].count_documents({}) == 0
    # Every kind of blob the job made went through the bucket; only two are left.
    def kind(key: str, version: str) -> str:
        head = client.head_object(Bucket=blobs.where.bucket, Key=key, VersionId=version)
        return str(json_util.loads(head["Metadata"]["meta"])["kind"])

    versions = client.list_object_versions(Bucket=blobs.where.bucket).get("Versions", [])
    written = {kind(v["Key"], v["VersionId"]) for v in versions}
    assert written == {"original", "chunk", "upscaled", "encoded", "enhanced"}
    live = client.list_objects_v2(Bucket=blobs.where.bucket)["Contents"]
    assert {blobs.where.prefix + video[f] for f in ("original_blob", "enhanced_blob")} == {
        o["Key"] for o in live}


async def test_a_chunk_too_long_for_the_time_per_message_fails_naming_the_settings(
    store: Store, tmp_path: Path, anime_models: Path
) -> None:
    # Split with the usual settings, then upscaled where a message may take 4 s (80 % of a
    # 5 s consumer timeout, the handler stopping itself a second earlier): 96 frames of
    # 160x120 at x4, one per batch, need far longer on a CPU (48 frames of 80x60 took
    # 0.1-0.4 s each under load, and all of them fitted in 3 s on a quiet machine). Retrying
    # cannot help; the video fails at once saying what to change.
    source = make_clip(tmp_path / "long.mp4", frames=96, size=(160, 120), gop=96, audio=False)
    settings = video_settings(tmp_path, anime_models, video_chunk_seconds=10)
    message = await create_job(store, source, scale=4)
    bus = MemoryBus(delivery_limit=3)
    await _decode_only(store, settings, bus, message)
    tight = video_settings(tmp_path, anime_models, bus_consumer_timeout_seconds=5,
                           video_batch_frames=1)
    async with running_stages(store, tight, [UPSCALE], bus=bus):
        failed = await wait_for_status(store, message.video_id, {"error", "completed"})
        # (decode's video.split waits in the encode queue, which nothing consumes here)
        await eventually(lambda: not bus._queue("upscale").ready and not bus._busy, within=60)
    assert failed["error_message"] == (
        "Error al procesar el video: fragmento 0: no terminó en el tiempo máximo por mensaje; "
        "reduzca VIDEO_CHUNK_MAX_FRAMES o aumente BUS_CONSUMER_TIMEOUT_SECONDS (y el "
        "consumer_timeout del broker a la par)")
    dead = await bus.dead_letters("upscale")
    assert [(d.message_id, d.headers["x-death-reason"]) for d in dead] == [
        (f"video:{message.video_id}:chunk:0:ready", "rejected")]
