"""What a job leaves behind is removed by its owner's ObjectId: blobs and chunk records."""

from __future__ import annotations

from bson import ObjectId

from common.jobs.blobs import BlobKind, image_blob, video_blob
from common.jobs.chunks import chunk_filter
from common.jobs.cleanup import purge_image, purge_video, remove_video_temporaries
from common.store import Store


async def _video_with_everything(store: Store, video_id: ObjectId) -> dict[BlobKind, str]:
    blobs = {kind: await store.blobs.put(b"x", filename=kind, metadata=video_blob(video_id, kind))
             for kind in BlobKind}
    await store.chunks.insert_many([{**chunk_filter(video_id, i)} for i in range(2)])
    return blobs


async def test_purge_video_removes_its_blobs_and_chunk_records_only(store: Store) -> None:
    gone, kept = ObjectId(), ObjectId()
    await _video_with_everything(store, gone)
    others = await _video_with_everything(store, kept)
    assert await purge_video(store, gone) == len(BlobKind)
    files = store.db["blobs.files"]
    assert await files.count_documents({"metadata.video_id": gone}) == 0
    assert await store.chunks.count_documents({"video_id": gone}) == 0
    assert [await store.blobs.exists(b) for b in others.values()] == [True] * len(BlobKind)
    assert await store.chunks.count_documents({"video_id": kept}) == 2
    assert await purge_video(store, gone) == 0  # idempotent


async def test_temporaries_go_the_original_and_the_result_stay(store: Store) -> None:
    video_id = ObjectId()
    blobs = await _video_with_everything(store, video_id)
    assert await remove_video_temporaries(store, video_id) == 3
    left = {kind for kind, blob in blobs.items() if await store.blobs.exists(blob)}
    assert left == {BlobKind.ORIGINAL, BlobKind.ENHANCED}
    assert await store.chunks.count_documents({}) == 0


async def test_purge_image(store: Store) -> None:
    image_id, other = ObjectId(), ObjectId()
    for owner in (image_id, other):
        for kind in (BlobKind.ORIGINAL, BlobKind.ENHANCED):
            await store.blobs.put(b"x", filename="i", metadata=image_blob(owner, kind))
    assert await purge_image(store, image_id) == 2
    assert await store.db["blobs.files"].count_documents({"metadata.image_id": other}) == 2
    # Job ids are stored as ObjectIds: the text form matches nothing.
    assert await store.db["blobs.files"].count_documents({"metadata.image_id": str(other)}) == 0


async def test_purge_and_temporaries_remove_objects_in_s3(s3_store: Store) -> None:
    video, kept = ObjectId(), ObjectId()
    blobs = await _video_with_everything(s3_store, video)
    others = await _video_with_everything(s3_store, kept)
    assert await remove_video_temporaries(s3_store, video) == 3
    left = {kind for kind, blob in blobs.items() if await s3_store.blobs.exists(blob)}
    assert left == {BlobKind.ORIGINAL, BlobKind.ENHANCED}
    assert await purge_video(s3_store, video) == 2
    assert [await s3_store.blobs.exists(b) for b in blobs.values()] == [False] * len(BlobKind)
    assert [await s3_store.blobs.exists(b) for b in others.values()] == [True] * len(BlobKind)
    image = ObjectId()
    result = await s3_store.blobs.put(b"r", filename="r",
                                      metadata=image_blob(image, BlobKind.ENHANCED))
    assert await purge_image(s3_store, image) == 1 and not await s3_store.blobs.exists(result)
