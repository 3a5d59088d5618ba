"""Workers announce themselves in MongoDB so the API can report what the pool looks like.

The API process never touches a GPU; ``GET /api/health`` learns the GPU's name (or why none is
used) from the heartbeats of the upscale workers, wherever they run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from common.store.client import Store

INTERVAL_SECONDS = 10.0
# A worker that missed three beats is considered gone.
STALE_AFTER = timedelta(seconds=3 * INTERVAL_SECONDS)


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    stage: str
    device: str  # "cuda" or "cpu"
    device_name: str  # e.g. "NVIDIA H100 80GB HBM3", or the reason the CPU is used


class Heartbeat:
    """Upserts this worker's document every ``INTERVAL_SECONDS`` until stopped."""

    def __init__(self, store: Store, info: WorkerInfo) -> None:
        self._store = store
        self._info = info
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None

    async def beat(self) -> None:
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
                }
            },
            upsert=True,
        )

    async def start(self) -> None:
        await self.beat()
        self._task = asyncio.create_task(self._loop(), name=f"heartbeat-{self._info.stage}")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL_SECONDS)
            # A missed beat while the database restarts is harmless; the next one catches up.
            with contextlib.suppress(Exception):
                await self.beat()

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
