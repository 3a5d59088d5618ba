"""Workers announce themselves in MongoDB so the API can report what the pool looks like.

The API process never touches a GPU nor the weights; ``GET /api/health`` learns the GPU's name
(or why none is used) and, from a stage's ``report`` (the upscale workers': which models they
can run, ``common.model_status``), what each worker can do, wherever it runs. A report that
changes is written within ``CHECK_SECONDS`` (a model converted on first use shows at once),
an unchanged one with the regular beat.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from common.store.client import Store

INTERVAL_SECONDS = 10.0
# A worker that missed three beats is considered gone.
STALE_AFTER = timedelta(seconds=3 * INTERVAL_SECONDS)
CHECK_SECONDS = 1.0

# Extra fields of the worker's document, recomputed before each beat.
Report = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    stage: str
    device: str  # "cuda" or "cpu"
    device_name: str  # e.g. "NVIDIA H100 80GB HBM3", or the reason the CPU is used


class Heartbeat:
    """Upserts this worker's document every ``INTERVAL_SECONDS`` until stopped."""

    def __init__(self, store: Store, info: WorkerInfo, report: Report | None = None) -> None:
        self._store = store
        self._info = info
        self._report = report
        self._reported: dict[str, Any] | None = None
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None

    async def beat(self, report: dict[str, Any] | None = None) -> None:
        if report is None and self._report is not None:
            report = await self._report()
        await self._store.db["workers"].update_one(
            {"_id": self.worker_id},
            {
                "$set": {
                    "stage": self._info.stage,
                    "device": self._info.device,
                    "device_name": self._info.device_name,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "last_seen": datetime.now(UTC),
                    **(report or {}),
                }
            },
            upsert=True,
        )
        self._reported = report

    async def start(self) -> None:
        await self.beat()
        self._task = asyncio.create_task(self._loop(), name=f"heartbeat-{self._info.stage}")

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(CHECK_SECONDS if self._report is not None else INTERVAL_SECONDS)
            # A missed beat while the database restarts is harmless; the next one catches up.
            with contextlib.suppress(Exception):
                report = await self._report() if self._report is not None else None
                if report != self._reported or loop.time() - last >= INTERVAL_SECONDS:
                    await self.beat(report)
                    last = loop.time()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._store.db["workers"].delete_one({"_id": self.worker_id})


async def live_workers(store: Store, stage: str | None = None) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"last_seen": {"$gte": datetime.now(UTC) - STALE_AFTER}}
    if stage is not None:
        query["stage"] = stage
    return [doc async for doc in store.db["workers"].find(query)]
