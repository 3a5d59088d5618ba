"""``BlobStore.delete_where``: removing a job's blobs by their metadata (cancel, clean-up)."""

from __future__ import annotations

import pytest
from bson import ObjectId

from common.errors import NotFound
from common.store import Store


async def test_delete_where_removes_only_matching_blobs_and_their_chunks(store: Store) -> None:
    big = bytes(range(256)) * 2048  # 512 KiB: several GridFS chunks
    ids = {
        "orig": await store.blobs.put(big, filename="a.mp4",
                                      metadata={"video_id": "v1", "kind": "original"}),
        "chunk": await store.blobs.put(big, filename="c0.nut",
                                       metadata={"video_id": "v1", "kind": "chunk"}),
        "up": await store.blobs.put(b"u", filename="u0.nut",
                                    metadata={"video_id": "v1", "kind": "upscaled"}),
        "other": await store.blobs.put(b"o", filename="c0.nut",
                                       metadata={"video_id": "v2", "kind": "chunk"}),
    }
    removed = await store.blobs.delete_where(video_id="v1", kind=["chunk", "upscaled"])
    assert removed == 2
    for name in ("chunk", "up"):
        with pytest.raises(NotFound):
            await store.blobs.get(ids[name])
    assert await store.blobs.get(ids["orig"]) == big
    assert await store.blobs.get(ids["other"]) == b"o"
    # No orphaned GridFS chunks remain for the removed files.
    gone = [ObjectId(ids["chunk"]), ObjectId(ids["up"])]
    assert await store.db["blobs.chunks"].count_documents({"files_id": {"$in": gone}}) == 0

    assert await store.blobs.delete_where(video_id="v1") == 1  # the original
    assert await store.blobs.delete_where(video_id="v1") == 0  # idempotent
    assert await store.blobs.get(ids["other"]) == b"o"


async def test_delete_where_refuses_an_empty_filter(store: Store) -> None:
    await store.blobs.put(b"x", filename="x", metadata={"video_id": "v"})
    with pytest.raises(ValueError):
        await store.blobs.delete_where()
    assert await store.blobs.delete_where(video_id="v") == 1
