"""Periodic clean-up of what no handler will ever remove: orphaned blob data, old results.

* **Abandoned uploads**: an upload whose process was killed (the API during a large upload,
  a stage storing a chunk) leaves GridFS chunks no file refers to, or an S3 multipart upload
  never completed. The blob store removes them once older than ``grace``
  (``remove_abandoned_uploads``), so an upload still in progress is never touched.
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
    # GridFS chunks with no file, or S3 multipart uploads never completed: the adapter knows.
    return await store.blobs.remove_abandoned_uploads(grace)


async def _orphan_blobs(store: Store, grace: timedelta) -> int:
    removed = 0
    for field, jobs in (("image_id", store.images), ("video_id", store.videos)):
        batch: list[tuple[str, Any]] = []
        async for owned in store.blobs.owned(field, utcnow() - grace):
            batch.append(owned)
            if len(batch) >= BATCH:
                removed += await _drop_unowned(store, jobs, batch)
                batch = []
        removed += await _drop_unowned(store, jobs, batch)
    return removed


async def _drop_unowned(store: Store, jobs: Any, blobs: list[tuple[str, Any]]) -> int:
    owners = {owner for _, owner in blobs}
    alive = {d[F.ID] async for d in jobs.find({F.ID: {"$in": list(owners)}}, {F.ID: 1})}
    orphans = [blob_id for blob_id, owner in blobs if owner not in alive]
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
