"""GridFS blobs: round trips (bytes and streamed), metadata, deletion, missing ids."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest
from bson import ObjectId

from common.errors import TooLarge
from common.store import Store

BIG = 32 * 1024 * 1024 + 12345  # not a multiple of the chunk size: the last chunk is partial


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_small_round_trip_and_info(store: Store) -> None:
    blob_id = await store.blobs.put(
        b"hello", filename="a.png", content_type="image/png", metadata={"job": "j1"}
    )
    assert isinstance(blob_id, str) and ObjectId.is_valid(blob_id)
    assert await store.blobs.get(blob_id) == b"hello"
    info = await store.blobs.info(blob_id)
    assert (info.id, info.length, info.filename) == (blob_id, 5, "a.png")
    assert info.content_type == "image/png" and info.metadata == {"job": "j1"}
    assert info.uploaded_at.tzinfo is not None
    assert await store.blobs.exists(blob_id)


async def test_large_blob_streamed_in_and_out(store: Store) -> None:
    data = os.urandom(BIG)
    # Upload pieces that straddle GridFS chunk boundaries.
    blob_id = await store.blobs.put(
        _pieces(data, 1_000_003), filename="big.mkv", content_type="video/x-matroska"
    )
    stream = await store.blobs.open_stream(blob_id)
    assert stream.info.length == BIG and stream.info.content_type == "video/x-matroska"
    digest, largest, total = hashlib.sha256(), 0, 0
    async for chunk in stream:
        digest.update(chunk)
        largest, total = max(largest, len(chunk)), total + len(chunk)
    assert total == BIG and largest <= 255 * 1024  # streamed chunk by chunk, never whole
    assert digest.digest() == hashlib.sha256(data).digest()
    assert await store.blobs.get(blob_id) == data


async def test_stream_abandoned_midway_can_be_closed(store: Store) -> None:
    blob_id = await store.blobs.put(os.urandom(600_000), filename="x")
    stream = await store.blobs.open_stream(blob_id)
    async for _ in stream:
        break
    await stream.aclose()


async def test_max_bytes_discards_the_partial_upload(store: Store) -> None:
    with pytest.raises(TooLarge):
        await store.blobs.put(_pieces(b"x" * 1_000_000, 100_000), filename="f", max_bytes=500_000)
    with pytest.raises(TooLarge):
        await store.blobs.put(b"x" * 10, filename="f", max_bytes=5)
    assert await store.db["blobs.files"].count_documents({}) == 0
    assert await store.db["blobs.chunks"].count_documents({}) == 0


async def test_failing_source_leaves_nothing(store: Store) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"y" * 600_000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.blobs.put(broken(), filename="f")
    assert await store.db["blobs.chunks"].count_documents({}) == 0


async def test_delete_removes_file_and_chunks(store: Store) -> None:
    keep = await store.blobs.put(b"k" * 300_000, filename="keep")
    gone = await store.blobs.put(b"g" * 300_000, filename="gone")
    await store.blobs.delete(gone)
    await store.blobs.delete(gone)
    assert not await store.blobs.exists(gone) and await store.blobs.exists(keep)
    assert await store.db["blobs.chunks"].count_documents({"files_id": ObjectId(gone)}) == 0
    assert await store.blobs.get(keep) == b"k" * 300_000


async def test_delete_many(store: Store) -> None:
    ids = [await store.blobs.put(bytes([i]) * 300_000, filename=f"c{i}") for i in range(3)]
    await store.blobs.delete_many([ids[0], ids[2], "junk", str(ObjectId())])
    assert [await store.blobs.exists(i) for i in ids] == [False, True, False]
    assert await store.db["blobs.chunks"].count_documents({}) == 2  # ids[1]: 2 chunks
    await store.blobs.delete_many([])
