"""One poll loop per collection per API process, shared by every stream watching a job.

SecantusDB has no change streams, and a bus fan-out would need every stage to publish
progress and every API replica to subscribe; the job document, which every stage already
updates, is the source any replica can read. So each process keeps one loop per collection:
every ``EVENTS_POLL_SECONDS`` it reads all watched jobs in one indexed ``_id $in`` query and
hands each stream its document. A thousand streams on one job, or on a thousand jobs, cost
one query per interval; the lag from an update to its event is at most one interval plus the
query (bench/events.py measures it). The end of a job does not wait for the interval: the
process's finished notices (``common.jobs.notices``) poke the watcher into reading at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from common.jobs import fields as F

log = logging.getLogger(__name__)

Doc = dict[str, Any]


class Subscription:
    """What one stream sees: the latest read of its job (None once deleted)."""

    def __init__(self) -> None:
        self.doc: Doc | None = None
        self.read = asyncio.Event()  # set by each poll that read the job

    def push(self, doc: Doc | None) -> None:
        self.doc = doc
        self.read.set()

    async def next(self) -> Doc | None:
        """The job as the next poll reads it."""
        self.read.clear()
        await self.read.wait()
        return self.doc


class JobWatcher:
    def __init__(self, collection: AsyncCollection[Doc], interval: float) -> None:
        self._collection = collection
        self._interval = interval
        self._subscribers: dict[ObjectId, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def poke(self, job_id: str) -> None:
        """A job ended (its finished notice): read now rather than at the next interval."""
        if ObjectId.is_valid(job_id) and ObjectId(job_id) in self._subscribers:
            self._wake.set()

    @contextlib.asynccontextmanager
    async def subscribe(self, job_id: ObjectId) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        self._subscribers.setdefault(job_id, set()).add(subscription)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="job-watcher")
        try:
            yield subscription
        finally:
            watching = self._subscribers.get(job_id, set())
            watching.discard(subscription)
            if not watching:
                self._subscribers.pop(job_id, None)

    async def _run(self) -> None:
        while self._subscribers:
            ids = list(self._subscribers)
            try:
                found = {doc[F.ID]: doc async for doc in self._collection.find(
                    {F.ID: {"$in": ids}}, {F.PROGRESS_KEYS: 0})}
            except PyMongoError as exc:  # the database is away: streams wait, then resume
                log.warning("event poll failed: %s", exc)
            else:
                for job_id in ids:
                    for subscription in tuple(self._subscribers.get(job_id, ())):
                        subscription.push(found.get(job_id))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
        self._task = None
