"""A job's end, in one place: what every settle point does after the job's final update.

The settle points are an image completed or failed (upscale), a video assembled (encode) or
failed (any video stage), and the watchdog failing a job it cannot re-drive. After the
guarded update that moved the job, each one: counts the end once (only the caller whose
update moved it), wakes whoever waits for the job (``announce_finished``) and asks for its
webhook (``notify_finished``). A caller that finds the job already ended (a redelivery, a
give-up hook run twice) calls it too, with ``moved=False``: a process killed between the
update and these two steps would otherwise leave a waiter polling and a webhook unasked; both
are harmless twice.

Also here, the other step every stage repeats: a guarded claim of a blob it stored (a chunk's
source, upscaled or encoded file, an image's or a video's result) that did not win keeps
the blob only when the record holds this very blob, else deletes it (``keep_if_claimed``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from common.contracts import JobKind
from common.jobs.notices import announce_finished
from common.metrics import job_ended
from common.webhooks.notify import notify_finished

if TYPE_CHECKING:
    from bson import ObjectId

    from common.runtime import Runtime
    from common.store.client import Store


async def ended(runtime: Runtime, kind: JobKind, job_id: ObjectId, *, moved: bool,
                status: str, model: str, created_at: datetime | None) -> None:
    """The job's final update is stored: count it (if ``moved``), wake, ask for the webhook."""
    if moved:
        job_ended(kind, model, status, created_at)
    await announce_finished(runtime.bus, kind, job_id)
    await notify_finished(runtime, kind, job_id)


async def keep_if_claimed(store: Store, ours: str, winner: Any) -> bool:
    """After a claim of ``ours`` that changed nothing: True if the record holds ``ours``
    anyway (this very write, retried after the database restarted, found its first attempt
    applied), else delete ``ours`` (another delivery won, or the job is gone) and False."""
    if winner is not None and str(winner) == ours:
        return True
    await store.blobs.delete(ours)
    return False
