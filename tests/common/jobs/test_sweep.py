"""The periodic sweep (common.jobs.sweep) on a real SecantusDB: orphaned GridFS chunks and
blobs older than the grace period go, anything in progress or owned stays; completed jobs
past RESULT_RETENTION_DAYS go with their blobs, newer or unfinished ones stay. Orphans and
retention also on S3 blobs (moto's server)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bson import Binary, ObjectId

from common.jobs.sweep import Swept, sweep
from common.store import Store
from common.store.ids import utcnow

GRACE = timedelta(hours=1)


async def _job(store: Store, kind: str, status: str, completed_days_ago: float | None) -> tuple[
        ObjectId, str]:
    job_id = ObjectId()
    blob = await store.blobs.put(b"x" * 100, filename="r.png",
                                 metadata={f"{kind}_id": job_id, "kind": "enhanced"})
    done = None if completed_days_ago is None else utcnow() - timedelta(days=completed_days_ago)
    jobs = store.images if kind == "image" else store.videos
    await jobs.insert_one({"_id": job_id, "status": status, "completed_at": done,
                           "enhanced_blob": blob})
    return job_id, blob


async def test_orphans_older_than_the_grace_go_and_nothing_else(store: Store) -> None:
    chunks, files = store.db["blobs.chunks"], store.db["blobs.files"]
    # What a killed upload leaves: chunks without a files entry, id minted two hours ago.
    killed = ObjectId.from_datetime(utcnow() - timedelta(hours=2))
    await chunks.insert_many([{"files_id": killed, "n": n, "data": Binary(b"z" * 10)}
                              for n in range(3)])
    # An upload in progress right now: its chunks are just as file-less, but young.
    running = ObjectId()
    await chunks.insert_one({"files_id": running, "n": 0, "data": Binary(b"y")})
    owned_id, owned = await _job(store, "image", "processing", None)
    stray = await store.blobs.put(b"s" * 10, filename="o.png",
                                  metadata={"image_id": ObjectId(), "kind": "original"})
    fresh_stray = await store.blobs.put(b"f", filename="o.png",
                                        metadata={"video_id": ObjectId(), "kind": "chunk"})
    two_hours_ago = utcnow() - timedelta(hours=2)
    for blob in (owned, stray):
        await files.update_one({"_id": ObjectId(blob)}, {"$set": {"uploadDate": two_hours_ago}})

    swept = await sweep(store, grace=GRACE, retention_days=None)

    assert swept == Swept(orphan_chunks=3, orphan_blobs=1, expired_jobs=0)
    assert await chunks.count_documents({"files_id": killed}) == 0
    assert await chunks.count_documents({"files_id": running}) == 1
    assert await store.blobs.exists(owned) and await store.blobs.exists(fresh_stray)
    assert not await store.blobs.exists(stray)
    assert await store.images.count_documents({"_id": owned_id}) == 1
    assert await sweep(store, grace=GRACE, retention_days=None) == Swept()  # idempotent


async def test_orphaned_objects_in_s3_go_after_the_grace(s3_store: Store) -> None:
    owned_id, owned = await _job(s3_store, "video", "processing", None)
    stray = await s3_store.blobs.put(b"s" * 10, filename="c.nut",
                                     metadata={"video_id": ObjectId(), "kind": "chunk"})
    assert await sweep(s3_store, grace=GRACE, retention_days=None) == Swept()  # all young
    await asyncio.sleep(0.01)  # past the millisecond the index entries were stored in
    swept = await sweep(s3_store, grace=timedelta(0), retention_days=None)
    assert swept == Swept(orphan_blobs=1)
    assert not await s3_store.blobs.exists(stray) and await s3_store.blobs.exists(owned)
    assert await s3_store.videos.count_documents({"_id": owned_id}) == 1


async def test_results_past_the_retention_go_with_their_blobs(any_store: Store) -> None:
    store = any_store
    old_image, old_image_blob = await _job(store, "image", "completed", 10)
    old_video, old_video_blob = await _job(store, "video", "completed", 8)
    recent, recent_blob = await _job(store, "image", "completed", 1)
    failed, failed_blob = await _job(store, "image", "failed", 30)

    assert await sweep(store, grace=GRACE, retention_days=None) == Swept()  # forever
    assert await store.images.count_documents({}) == 3

    swept = await sweep(store, grace=GRACE, retention_days=7)

    assert swept == Swept(expired_jobs=2)
    assert await store.images.find_one({"_id": old_image}) is None
    assert await store.videos.find_one({"_id": old_video}) is None
    assert not await store.blobs.exists(old_image_blob)
    assert not await store.blobs.exists(old_video_blob)
    for job_id, blob in ((recent, recent_blob), (failed, failed_blob)):
        assert await store.images.find_one({"_id": job_id}) is not None
        assert await store.blobs.exists(blob)
