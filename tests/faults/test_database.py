"""The database paused (SIGSTOP) and killed (SIGKILL, then restarted) in the middle of a job:
the API answers the documented 503 promptly meanwhile, and the job completes exactly once the
database is back."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from tests.faults.harness import Faults

pytestmark = pytest.mark.rabbitmq

# MONGO_TIMEOUT_SECONDS=2 in the suite; a request may meet it twice.
PROMPT = 7.0


async def _api_answers_503(faults: Faults, headers: dict[str, str], video: str) -> None:
    for path in (f"/api/videos/{video}", "/api/videos", "/api/health"):
        started = time.monotonic()
        answer = await faults.http.get(path, headers=headers)
        took = time.monotonic() - started
        assert answer.status_code == 503, f"{path}: {answer.status_code} {answer.text}"
        assert "error" in answer.json() or answer.json()["status"] == "degraded"
        assert took < PROMPT, f"{path} took {took:.1f} s"


async def test_database_paused_mid_job(faults: Faults) -> None:
    headers, video, _ = await faults.mid_chunk("pause.mp4")
    pid = faults.suite.database.pid
    assert pid is not None
    faults.inject("database paused (SIGSTOP) mid-job")
    faults.outage = True
    os.kill(pid, signal.SIGSTOP)
    try:
        await _api_answers_503(faults, headers, video)
        await asyncio.sleep(1)
    finally:
        os.kill(pid, signal.SIGCONT)
    faults.outage = False
    await faults.completed_exactly(video)


async def test_database_killed_and_restarted_mid_job(faults: Faults) -> None:
    headers, video, _ = await faults.mid_chunk("kill-db.mp4")
    faults.inject("database killed (SIGKILL) mid-job, restarted")
    faults.outage = True
    faults.suite.database.kill()
    try:
        await _api_answers_503(faults, headers, video)
    finally:
        await asyncio.to_thread(faults.suite.database.start_sync)  # same port, same files
    faults.outage = False
    await faults.completed_exactly(video)
