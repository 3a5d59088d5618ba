"""Per-user admission of new jobs: ``MAX_ACTIVE_JOBS_PER_USER`` and
``MAX_SUBMISSIONS_PER_MINUTE``.

``admit_job`` is the one call every submit path makes (images and videos), after the upload
has been checked and before anything is stored: beyond either limit it raises ``RateLimited``
(429 with ``Retry-After``) and nothing is stored. ``release_job`` frees a slot at once when a
job is deleted.

Active jobs (images pending/processing, videos pending/in_progress) hold a slot in the
user's ``job_slots`` document, ``{_id: user_id, jobs: [{id, at}]}``. A slot is taken with one
guarded update (the filter requires ``jobs.<limit - 1>`` not to exist), so concurrent
submissions, on any number of API replicas, never admit more than the limit. Slots of jobs
that have since finished are freed lazily: when the list is full, the ids whose jobs are no
longer active are pulled and admission is tried once more. So the stages know nothing of
quotas, and a crash between admission and storage cannot leak a slot (an id with no job is
freed once ``_UNSTORED_GRACE`` has passed: its submission may still be storing it).
"""

from __future__ import annotations

from datetime import timedelta

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from common.errors import RateLimited
from common.jobs import fields as F
from common.jobs.status import IMAGE_ACTIVE, VIDEO_ACTIVE
from common.runtime import Runtime
from common.store.client import Store
from common.store.counters import reserve
from common.store.ids import utcnow

TOO_MANY_ACTIVE = ("Demasiados trabajos en curso: el máximo es {limit} por usuario. "
                   "Espere a que terminen e inténtelo de nuevo")
TOO_MANY_SUBMITTED = ("Demasiados envíos: el máximo es {limit} por minuto. "
                      "Inténtelo de nuevo más tarde")
# What a client refused for active jobs is told to wait: jobs end in seconds to minutes.
ACTIVE_RETRY_AFTER = 10
_UNSTORED_GRACE = timedelta(seconds=60)
_RATE_WINDOW = timedelta(minutes=1)


async def _take_slot(store: Store, user_id: ObjectId, job_id: ObjectId, limit: int) -> bool:
    room = {"_id": user_id, f"jobs.{limit - 1}": {"$exists": False}}
    take = {"$push": {"jobs": {"id": job_id, "at": utcnow()}}}
    try:
        await store.job_slots.update_one(room, take, upsert=True)
        return True
    except DuplicateKeyError:
        # The upsert collided with the user's document: either its list is full, or a
        # concurrent first admission created it just now (then there may be room).
        return (await store.job_slots.update_one(room, take)).modified_count == 1


async def _free_finished(store: Store, user_id: ObjectId) -> int:
    """Pull the slots of jobs that are no longer active; how many were freed."""
    doc = await store.job_slots.find_one({"_id": user_id})
    entries = (doc or {}).get("jobs", [])
    ids = [e["id"] for e in entries]
    active: set[ObjectId] = set()
    stored: set[ObjectId] = set()
    for jobs, running in ((store.images, IMAGE_ACTIVE), (store.videos, VIDEO_ACTIVE)):
        async for job in jobs.find({F.ID: {"$in": ids}}, {F.STATUS: 1}):
            stored.add(job[F.ID])
            if job[F.STATUS] in running:
                active.add(job[F.ID])
    settled_before = utcnow() - _UNSTORED_GRACE
    stale = [e["id"] for e in entries if e["id"] not in active
             and (e["id"] in stored or e["at"] < settled_before)]
    if not stale:
        return 0
    await store.job_slots.update_one({"_id": user_id}, {"$pull": {"jobs": {"id": {"$in": stale}}}})
    return len(stale)


async def admit_job(runtime: Runtime, user_id: ObjectId, job_id: ObjectId) -> None:
    """Give ``job_id`` one of ``user_id``'s active slots and one of this minute's submissions,
    or raise ``RateLimited`` having taken neither."""
    store, settings = runtime.store, runtime.settings
    limit = settings.max_active_jobs_per_user
    admitted = await _take_slot(store, user_id, job_id, limit)
    if not admitted and await _free_finished(store, user_id):
        admitted = await _take_slot(store, user_id, job_id, limit)
    if not admitted:
        raise RateLimited(TOO_MANY_ACTIVE.format(limit=limit), retry_after=ACTIVE_RETRY_AFTER)
    per_minute = settings.max_submissions_per_minute
    reopens = await reserve(store.rate_limits, f"submit:{user_id}", per_minute, _RATE_WINDOW)
    if reopens is not None:
        await release_job(store, user_id, job_id)
        wait = int((reopens - utcnow()).total_seconds()) + 1
        raise RateLimited(TOO_MANY_SUBMITTED.format(limit=per_minute), retry_after=wait)


async def release_job(store: Store, user_id: ObjectId, job_id: ObjectId) -> None:
    """Free ``job_id``'s slot now (its job was deleted, or never stored)."""
    await store.job_slots.update_one({"_id": user_id}, {"$pull": {"jobs": {"id": job_id}}})

