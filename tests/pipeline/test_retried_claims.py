"""A chunk's claim when the driver's write retry runs the update a second time.

After a lost connection the driver retries a write once; a database restarted in between has
forgotten the first attempt and applies it again, so the answer the handler sees says nothing
changed although its own first attempt did. Seen in the fault suite (database SIGKILLed
mid-job): the handler took itself for the loser and deleted the blob the record now held.
Here the retry is reproduced on a real SecantusDB by applying each update twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from common.jobs.blobs import BlobKind
from common.jobs.chunks import blob_field, chunk_filter
from common.runtime import Runtime
from common.store import Store
from pipeline.video_jobs import claim_chunk_blob, store_chunk_file

FIELD = blob_field(BlobKind.UPSCALED)


class RetriedWrites:
    """A real collection whose ``update_one`` runs twice, answering with the second run."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        await self._collection.update_one(*args, **kwargs)
        return await self._collection.update_one(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


async def _video_blobs(store: Store, video_id: ObjectId) -> set[str]:
    found = store.db["blobs.files"].find({"metadata.video_id": video_id}, {"_id": 1})
    return {str(row["_id"]) async for row in found}


async def test_a_retried_claim_keeps_the_blob_it_set(runtime: Runtime, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    store, video_id = runtime.store, ObjectId()
    await store.chunks.insert_one({**chunk_filter(video_id, 0), FIELD: None})
    retried = RetriedWrites(store.chunks)
    monkeypatch.setattr(Store, "chunks", property(lambda _self: retried))
    chunk = tmp_path / "chunk.nut"
    chunk.write_bytes(b"upscaled frames" * 100)

    claimed = await claim_chunk_blob(runtime, video_id, 0, BlobKind.UPSCALED, chunk,
                                     {"frames": 3})

    record = await store.chunks.find_one(chunk_filter(video_id, 0))
    assert record is not None and claimed is not None
    assert record[FIELD] == claimed
    assert await store.blobs.get(claimed) == chunk.read_bytes()
    assert await _video_blobs(store, video_id) == {claimed}


async def test_a_real_loser_still_removes_its_copy(runtime: Runtime, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store, video_id = runtime.store, ObjectId()
    chunk = tmp_path / "chunk.nut"
    chunk.write_bytes(b"the winner's frames" * 100)
    winner = await store_chunk_file(runtime, chunk, video_id, 0, BlobKind.UPSCALED)
    await store.chunks.insert_one({**chunk_filter(video_id, 0), FIELD: winner})
    retried = RetriedWrites(store.chunks)
    monkeypatch.setattr(Store, "chunks", property(lambda _self: retried))

    claimed = await claim_chunk_blob(runtime, video_id, 0, BlobKind.UPSCALED, chunk,
                                     {"frames": 3})

    assert claimed == winner
    assert await _video_blobs(store, video_id) == {winner}
