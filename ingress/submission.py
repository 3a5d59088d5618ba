"""Create a job document and publish its message, never leaving a job stuck in ``pending``.

The document is written first (the API must be able to answer polling for any id it returns)
and the message second; if the broker does not confirm the publish, the job is marked failed
with a readable reason and the caller gets 503, so nothing waits forever for a message that
does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from common.bus.port import Bus
from common.contracts import Message
from common.errors import PublishError, ServiceUnavailable
from common.jobs import fields as F
from common.jobs.status import INITIAL
from common.messaging import publish
from common.store.blob_port import BlobStore
from common.store.jobs import transition

log = logging.getLogger(__name__)

UNAVAILABLE = "Servicio de procesamiento no disponible temporalmente, inténtelo de nuevo"


async def submit_job(
    jobs: AsyncCollection[dict[str, Any]],
    bus: Bus,
    document: dict[str, Any],
    message_for: Callable[[ObjectId], Message],
    *,
    failed_status: str,
) -> ObjectId:
    """Insert ``document`` (status ``pending``) and publish ``message_for(its id)``."""
    if document.get(F.STATUS) != INITIAL:
        raise ValueError(f"a new job starts in status {INITIAL!r}")
    job_id: ObjectId = (await jobs.insert_one(document)).inserted_id
    try:
        await publish(bus, message_for(job_id))
    except PublishError as exc:
        log.error("publish for job %s not confirmed: %s", job_id, exc)
        await transition(
            jobs, job_id, [INITIAL], failed_status, {F.ERROR_MESSAGE: f"{UNAVAILABLE}: {exc}"}
        )
        raise ServiceUnavailable(UNAVAILABLE) from exc
    return job_id


async def submit_stored_job(
    blobs: BlobStore,
    jobs: AsyncCollection[dict[str, Any]],
    bus: Bus,
    document: dict[str, Any],
    message_for: Callable[[ObjectId], Message],
    *,
    failed_status: str,
) -> ObjectId:
    """``submit_job`` for a document (with its ``_id``) whose original is already stored.

    When only the publish failed, the document exists (in ``failed_status``) and keeps its
    original, so the user sees what failed; when the document never got in, nothing refers to
    the blob ``document["original_blob"]`` and it is removed: no orphan is left.
    """
    try:
        return await submit_job(jobs, bus, document, message_for, failed_status=failed_status)
    except BaseException:
        blob = document[F.ORIGINAL_BLOB]
        stored = {F.ID: document[F.ID], F.ORIGINAL_BLOB: blob}
        if await jobs.find_one(stored, {F.ID: 1}) is None:
            await blobs.delete(blob)
        raise
