"""The blob port's contract, run on both adapters: GridFS (the test SecantusDB) and S3 (moto's
server, a protocol-level stand-in for MinIO/AWS started by the tests)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from bson import ObjectId

from common.errors import NotFound, TooLarge
from common.store import Store
from common.store.ids import utcnow

BIG = 17 * 1024 * 1024 + 12345  # past two S3 parts and many GridFS chunks, partial last one


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _nothing_left(store: Store, owner: ObjectId) -> bool:
    owned = [b async for b in store.blobs.owned("video_id", utcnow() + timedelta(hours=1))]
    abandoned = await store.blobs.remove_abandoned_uploads(timedelta(0))
    return not [b for b in owned if b[1] == owner] and abandoned == 0


async def test_round_trip_info_and_metadata(any_store: Store) -> None:
    owner = ObjectId()
    meta = {"video_id": owner, "kind": "chunk", "index": 3}
    blob_id = await any_store.blobs.put(b"hello", filename="trozo ñ.nut",
                                        content_type="video/x-nut", metadata=meta)
    assert await any_store.blobs.get(blob_id) == b"hello"
    info = await any_store.blobs.info(blob_id)
    assert (info.id, info.length, info.filename) == (blob_id, 5, "trozo ñ.nut")
    assert info.content_type == "video/x-nut" and info.metadata == meta
    assert info.uploaded_at.tzinfo is not None
    assert await any_store.blobs.exists(blob_id)


async def test_empty_blob(any_store: Store) -> None:
    blob_id = await any_store.blobs.put(b"", filename="empty.bin")
    assert await any_store.blobs.get(blob_id) == b""
    assert [c async for c in await any_store.blobs.open_stream(blob_id)] == []


async def test_large_blob_streamed_in_and_out(any_store: Store) -> None:
    data = os.urandom(BIG)
    blob_id = await any_store.blobs.put(_pieces(data, 1_000_003), filename="big.mkv",
                                        content_type="video/x-matroska")
    stream = await any_store.blobs.open_stream(blob_id)
    assert stream.info.length == BIG and stream.info.content_type == "video/x-matroska"
    digest, largest, total = hashlib.sha256(), 0, 0
    async for chunk in stream:
        digest.update(chunk)
        largest, total = max(largest, len(chunk)), total + len(chunk)
    assert total == BIG and largest <= 256 * 1024  # streamed piece by piece, never whole
    assert digest.digest() == hashlib.sha256(data).digest()


async def test_too_large_or_failing_uploads_leave_nothing(any_store: Store) -> None:
    owner = ObjectId()
    meta = {"video_id": owner, "kind": "upscaled"}
    with pytest.raises(TooLarge):  # fails after a multipart upload has begun on S3
        await any_store.blobs.put(_pieces(b"x" * 12_000_000, 1_000_000), filename="f",
                                  metadata=meta, max_bytes=11_000_000)
    with pytest.raises(TooLarge):
        await any_store.blobs.put(b"x" * 10, filename="f", metadata=meta, max_bytes=5)

    async def broken() -> AsyncIterator[bytes]:
        yield b"y" * 9_000_000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await any_store.blobs.put(broken(), filename="f", metadata=meta)
    assert await _nothing_left(any_store, owner)


@pytest.mark.parametrize("blob_id", [str(ObjectId()), "video_id/x/chunk/nothing", ""])
async def test_missing_blob_is_not_found(any_store: Store, blob_id: str) -> None:
    with pytest.raises(NotFound):
        await any_store.blobs.get(blob_id)
    with pytest.raises(NotFound):
        await any_store.blobs.info(blob_id)
    with pytest.raises(NotFound):
        await any_store.blobs.open_stream(blob_id)
    assert not await any_store.blobs.exists(blob_id)
    await any_store.blobs.delete(blob_id)  # idempotent: no error


async def test_delete_and_delete_many(any_store: Store) -> None:
    ids = [await any_store.blobs.put(bytes([i]) * 1000, filename=f"c{i}") for i in range(4)]
    await any_store.blobs.delete(ids[3])
    await any_store.blobs.delete(ids[3])
    await any_store.blobs.delete_many([ids[0], ids[2], str(ObjectId())])
    assert [await any_store.blobs.exists(i) for i in ids] == [False, True, False, False]
    assert await any_store.blobs.get(ids[1]) == bytes([1]) * 1000
    await any_store.blobs.delete_many([])


async def test_delete_where_by_owner_kinds_and_keep(any_store: Store) -> None:
    video, other = ObjectId(), ObjectId()
    blobs = any_store.blobs

    async def put(owner: ObjectId, kind: str, **extra: object) -> str:
        return await blobs.put(b"x", filename=kind,
                               metadata={"video_id": owner, "kind": kind, **extra})

    chunk0, chunk1 = await put(video, "chunk", index=0), await put(video, "chunk", index=1)
    upscaled, original, result = (await put(video, "upscaled"), await put(video, "original"),
                                  await put(video, "enhanced"))
    elsewhere = await put(other, "chunk", index=0)
    assert await blobs.delete_where(video_id=video, kind="chunk", index=1) == 1
    assert not await blobs.exists(chunk1) and await blobs.exists(chunk0)
    assert await blobs.delete_where(video_id=video, kind=["chunk", "upscaled"]) == 2
    assert not await blobs.exists(chunk0) and not await blobs.exists(upscaled)
    assert await blobs.delete_where(video_id=video, keep=result) == 1
    assert not await blobs.exists(original) and await blobs.exists(result)
    assert await blobs.exists(elsewhere)
    with pytest.raises(ValueError):
        await blobs.delete_where()


async def test_owned_lists_job_blobs_stored_before_a_time(any_store: Store) -> None:
    image = ObjectId()
    blob_id = await any_store.blobs.put(b"i", filename="r.png",
                                        metadata={"image_id": image, "kind": "enhanced"})
    await any_store.blobs.put(b"l", filename="loose.bin")
    later = [b async for b in any_store.blobs.owned("image_id", utcnow() + timedelta(hours=1))]
    assert later == [(blob_id, image)]
    earlier = [b async for b in any_store.blobs.owned("image_id", utcnow() - timedelta(hours=1))]
    assert earlier == []
