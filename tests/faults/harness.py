"""What every fault test shares: the deployment it breaks, the jobs it submits, the checks.

The deployment is the distributed one, as separate processes (``python -m ingress`` and one
process per stage) on a private RabbitMQ node and a SecantusDB server of the suite's own, so
the suite may stop the broker, pause or kill the database and SIGKILL workers without
touching anyone else. The node's ``consumer_timeout`` is lowered to ``CONSUMER_TIMEOUT`` for
the whole suite (the workers are told so), so every test also shows that normal chunks never
meet the broker's clock.

``Faults`` is one test's view: an HTTP client that records every answer (a 5xx other than
the documented 503 during an outage is a failure), the jobs it submitted, and ``finish``,
which checks what every test must leave behind: each job completed with every frame exactly
once (or ended in error with a reason), nothing pending or running, no orphan blob, no
consumer timeout at the broker. ``LEDGER`` adds up the suite's figures for its summary line.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId

from common.bus import RabbitBus
from common.store import SecantusServer, Store
from tests.common.media.clips import MS, frame_times, make_clip, timing_error
from tests.distributed import Deployment, wait_until_serving
from tests.rabbitmq_node import PrivateRabbit

CONSUMER_TIMEOUT = 15  # seconds, on the node and in BUS_CONSUMER_TIMEOUT_SECONDS
NAMESPACE = "faults"
DB_NAME = "faults"
DELIVERY_LIMIT = 5
STAGES = {"decode": "pipeline.decode", "upscale": "pipeline.upscale", "encode": "pipeline.encode"}
PASSWORD = "mipassword123"
# What RabbitMQ logs when it closes a channel for an unacknowledged delivery.
ACK_TIMEOUT = "timed out waiting for delivery acknowledgement"
FINISHED = {"completed", "error", "failed"}


@dataclass
class Ledger:
    faults: int = 0
    jobs: int = 0
    jobs_lost: int = 0
    duplicate_frames: int = 0
    bad_inputs: int = 0
    server_errors: int = 0

    def line(self) -> str:
        return (f"faults injected={self.faults} jobs_lost={self.jobs_lost} "
                f"duplicate_frames={self.duplicate_frames} bad_inputs={self.bad_inputs} "
                f"5xx={self.server_errors}")


LEDGER = Ledger()


@dataclass
class Suite:
    """The running deployment and the services under it (package-scoped)."""

    deploy: Deployment
    broker: PrivateRabbit
    database: SecantusServer
    mongo_url: str

    def ensure_running(self) -> None:
        """Restart whatever a test killed or stopped, and wait until it all serves again."""
        for name, module in {"ingress": "ingress", **STAGES}.items():
            if not self.deploy.running(name):
                self.deploy.start(name, module)
        wait_until_serving(self.deploy, set(STAGES))


@dataclass
class Faults:
    """One test's client of the deployment."""

    suite: Suite
    store: Store
    http: httpx.AsyncClient
    bus: RabbitBus
    work: Path
    jobs: list[tuple[str, str, Path | None]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    outage: bool = False  # 503 is the documented answer while a dependency is down
    timeouts_before: int = 0

    @property
    def deploy(self) -> Deployment:
        return self.suite.deploy

    async def record(self, response: httpx.Response) -> None:
        if response.status_code >= 500 and not (response.status_code == 503 and self.outage):
            await response.aread()
            LEDGER.server_errors += 1
            self.unexpected.append(f"{response.request.method} {response.request.url.path}: "
                                   f"{response.status_code} {response.text[:200]}")

    def inject(self, what: str) -> None:
        LEDGER.faults += 1
        print(f"fault: {what}")

    async def sign_up(self) -> dict[str, str]:
        name = f"f{uuid.uuid4().hex[:10]}"
        email = f"{name}@ejemplo.com"
        made = await self.http.post("/api/auth/register", json={
            "username": name, "email": email, "password": PASSWORD})
        assert made.status_code == 201, made.text
        login = await self.http.post("/api/auth/login",
                                     json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}

    async def submit_video(self, headers: dict[str, str], source: Path, *, scale: int = 2,
                           expect: int = 202) -> str:
        data = await asyncio.to_thread(source.read_bytes)
        answer = await self.http.post(
            "/api/videos/enhance", headers=headers,
            files={"file": (source.name, data, "application/octet-stream")},
            data={"model_type": "anime_video", "scale": str(scale)})
        assert answer.status_code == expect, answer.text
        video_id: str = answer.json()["video"]["id"]
        self.track("video", video_id, source)
        return video_id

    def track(self, kind: str, job_id: str, source: Path | None) -> None:
        self.jobs.append((kind, job_id, source))
        LEDGER.jobs += 1

    async def job(self, kind: str, job_id: str) -> dict[str, Any] | None:
        jobs = self.store.videos if kind == "video" else self.store.images
        return await jobs.find_one({"_id": ObjectId(job_id)})

    async def until(self, condition: Callable[[], Awaitable[Any]], within: float,
                    what: str) -> Any:
        deadline = time.monotonic() + within
        while True:
            value = await condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not reached in {within} s\n"
                                     f"{self.deploy.log_tails(2500)}")
            await asyncio.sleep(0.1)

    async def settled(self, kind: str, job_id: str, within: float = 180) -> dict[str, Any]:
        async def done() -> dict[str, Any] | None:
            doc = await self.job(kind, job_id)
            return doc if doc is not None and doc["status"] in FINISHED else None

        doc: dict[str, Any] = await self.until(done, within, f"{kind} {job_id} settled")
        return doc

    async def in_a_chunk(self, worker: str, video_id: str) -> int:
        """Wait until ``worker`` has started a chunk of ``video_id`` it has not finished."""
        async def busy() -> int | None:
            log = self.deploy.log(worker)
            for index in range(10_000):
                key = f"video:{video_id}:chunk:{index}:ready"
                if f"{key} started" not in log:
                    return None
                if f"{key} done" not in log:
                    return index + 1  # never 0, so the condition reads as true
            return None

        return int(await self.until(busy, 120, f"{worker} inside a chunk")) - 1

    async def mid_chunk(self, name: str, *, frames: int = 40, size: tuple[int, int] = (96, 64),
                        ) -> tuple[dict[str, str], str, int]:
        """A new user's video (a clip ``name`` of ``frames``), once the upscale worker is inside
        one of its chunks: (the user's headers, the video's id, the chunk's index)."""
        headers = await self.sign_up()
        source = await asyncio.to_thread(make_clip, self.work / name, frames=frames, gop=8,
                                         size=size)
        video = await self.submit_video(headers, source)
        return headers, video, await self.in_a_chunk("upscale", video)

    async def completed_exactly(self, video_id: str) -> dict[str, Any]:
        """The job completed, with every frame of its source once, at its own time."""
        doc = await self.settled("video", video_id)
        assert doc["status"] == "completed", doc.get("error_message")
        source = next(s for _, j, s in self.jobs if j == video_id)
        assert source is not None
        output = self.work / f"{video_id}.mkv"
        result = await self.store.blobs.get(doc["enhanced_blob"])
        await asyncio.to_thread(output.write_bytes, result)
        times, expected = frame_times(output), frame_times(source)
        LEDGER.duplicate_frames += max(0, doc["frames_processed"] - doc["frame_count"])
        LEDGER.duplicate_frames += len(times) - len(set(times))
        assert doc["frames_processed"] == doc["frame_count"] == len(expected)
        assert len(times) == len(set(times)) == len(expected)
        assert timing_error(source, output) <= MS
        return doc

    def ack_timeouts(self) -> int:
        return self.suite.broker.log_text().count(ACK_TIMEOUT)

    async def finish(self) -> None:
        """What every test leaves behind, checked after it."""
        for kind, job_id, _ in self.jobs:
            doc = await self.job(kind, job_id)
            if doc is None:
                continue  # deleted by the test itself
            if doc["status"] not in FINISHED or (
                    doc["status"] != "completed" and not doc.get("error_message")):
                LEDGER.jobs_lost += 1
                raise AssertionError(f"{kind} {job_id} left {doc['status']}: {doc}")
        await self.no_orphans()
        assert self.ack_timeouts() == self.timeouts_before, "the broker timed a consumer out"
        assert not self.unexpected, self.unexpected

    async def no_orphans(self) -> None:
        """Every stored blob belongs to a job that still exists; finished videos keep only
        their original and result, and no chunk records."""
        async for blob in self.store.db["blobs.files"].find({}, {"metadata": 1}):
            meta = blob.get("metadata") or {}
            kind = "video" if "video_id" in meta else "image"
            owner = await self.job(kind, str(meta.get(f"{kind}_id")))
            assert owner is not None, f"orphan blob {blob['_id']}: {meta}"
            if owner["status"] in FINISHED and kind == "video":
                assert meta["kind"] in ("original", "enhanced"), f"leftover {meta}"
        async for record in self.store.chunks.find({}):
            owner = await self.job("video", str(record["video_id"]))
            assert owner is not None and owner["status"] not in FINISHED, f"leftover {record}"
