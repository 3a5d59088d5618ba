"""Periodic clean-up of what no handler will ever remove: orphaned GridFS data, old results.

* **Orphaned GridFS chunks**: GridFS writes a file's chunks first and its ``files`` entry
  when the upload closes, so an upload whose process was killed (the API during a large
  upload, a stage storing a chunk) leaves chunks no file refers to. They are removed once
  their file id (an ObjectId minted when the upload opened) is older than ``grace``, so an
  upload still in progress is never touched.
* **Orphaned blobs**: a blob stored for a job whose document never got in or is gone (a
  process killed between storing and inserting, or between deleting the document and its
  blobs), older than ``grace``.
* **Retention** (``RESULT_RETENTION_DAYS``, default forever): completed jobs older than that
  are deleted with their blobs, the way the API's ``DELETE`` does it (document first).

Every step is idempotent and safe to run in several processes at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bson import ObjectId

from common.jobs import fields as F
from common.jobs.cleanup import purge_image, purge_video
from common.jobs.status import ImageStatus, VideoStatus
from common.store.client import Store
from common.store.ids import utcnow

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True, slots=True)
class Swept:
    orphan_chunks: int = 0
    orphan_blobs: int = 0
    expired_jobs: int = 0


async def sweep(store: Store, *, grace: timedelta,
                retention_days: float | None) -> Swept:
    """One pass of every clean-up; what it removed."""
    swept = Swept(await _orphan_chunks(store, grace), await _orphan_blobs(store, grace),
                  await _expired(store, retention_days))
    if swept != Swept():
        log.info("sweep: %d orphaned GridFS chunks, %d orphaned blobs, %d expired jobs removed",
                 swept.orphan_chunks, swept.orphan_blobs, swept.expired_jobs)
    return swept


async def _orphan_chunks(store: Store, grace: timedelta) -> int:
    files, chunks = store.db["blobs.files"], store.db["blobs.chunks"]
    cutoff = ObjectId.from_datetime(utcnow() - grace)
    ids = [row["_id"] async for row in await chunks.aggregate([
        {"$match": {"files_id": {"$lt": cutoff}}},
        {"$group": {"_id": "$files_id"}},
    ])]
    removed = 0
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        present = {f["_id"] async for f in files.find({"_id": {"$in": batch}}, {"_id": 1})}
        missing = [i for i in batch if i not in present]
        if missing:
            removed += (await chunks.delete_many({"files_id": {"$in": missing}})).deleted_count
    return removed


async def _orphan_blobs(store: Store, grace: timedelta) -> int:
    files = store.db["blobs.files"]
    removed = 0
    for field, jobs in (("image_id", store.images), ("video_id", store.videos)):
        found = files.find({"uploadDate": {"$lt": utcnow() - grace},
                            f"metadata.{field}": {"$exists": True}},
                           {"_id": 1, f"metadata.{field}": 1})
        batch: list[dict[str, Any]] = []
        async for blob in found:
            batch.append(blob)
            if len(batch) >= BATCH:
                removed += await _drop_unowned(store, jobs, field, batch)
                batch = []
        removed += await _drop_unowned(store, jobs, field, batch)
    return removed


async def _drop_unowned(store: Store, jobs: Any, field: str,
                        blobs: list[dict[str, Any]]) -> int:
    owners = {b["metadata"][field] for b in blobs}
    alive = {d[F.ID] async for d in jobs.find({F.ID: {"$in": list(owners)}}, {F.ID: 1})}
    orphans = [str(b["_id"]) for b in blobs if b["metadata"][field] not in alive]
    await store.blobs.delete_many(orphans)
    return len(orphans)


async def _expired(store: Store, retention_days: float | None) -> int:
    if retention_days is None:
        return 0
    cutoff = utcnow() - timedelta(days=retention_days)
    removed = 0
    for jobs, done, purge in ((store.images, ImageStatus.COMPLETED, purge_image),
                              (store.videos, VideoStatus.COMPLETED, purge_video)):
        old = jobs.find({F.STATUS: done, F.COMPLETED_AT: {"$lt": cutoff}}, {F.ID: 1})
        async for doc in old:
            # The document first, like DELETE: a reader then sees the job gone, not blobless.
            if (await jobs.delete_one({F.ID: doc[F.ID], F.STATUS: done})).deleted_count:
                removed += 1
            await purge(store, doc[F.ID])
    return removed
