"""Asking for a webhook: the stage that ends a job publishes ``webhook.requested``.

Called after the job's final update, and again by any later delivery that finds the job
already ended (a redelivered message, a give-up hook run twice): a process killed between
the update and the publish would otherwise lose the webhook. Extra requests are harmless:
the webhooks stage keeps one delivery record per job end (``common.webhooks.records``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bson import ObjectId

from common.contracts import JobKind, WebhookRequested
from common.jobs import fields as F
from common.jobs.status import FINAL
from common.messaging import publish

if TYPE_CHECKING:
    from common.runtime import Runtime

log = logging.getLogger(__name__)


async def notify_finished(runtime: Runtime, kind: JobKind, job_id: ObjectId) -> bool:
    """Publish the webhook request of an ended job that has a ``callback_url``; True if one
    was published (False: no URL, still running, or deleted)."""
    jobs = runtime.store.images if kind == "image" else runtime.store.videos
    doc = await jobs.find_one({F.ID: job_id}, {F.STATUS: 1, F.CALLBACK_URL: 1})
    if doc is None or not doc.get(F.CALLBACK_URL) or doc.get(F.STATUS) not in FINAL:
        return False
    await publish(runtime.bus, WebhookRequested(kind=kind, job_id=str(job_id),
                                                status=doc[F.STATUS]))
    log.info("%s %s ended %s: webhook requested", kind, job_id, doc[F.STATUS])
    return True
