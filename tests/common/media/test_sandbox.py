"""The media sandbox's child: results and our errors come back by type, a child over its time
is stopped, and an awaited child dies with the task that awaits it (a job cut or cancelled
mid-split no longer leaves its decoder running to the time limit)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from common.errors import InvalidInput
from common.media.sandbox import run_limited, run_limited_async

TARGET = "tests.common.media.sandbox_targets"


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a reaped child is gone; a zombie would still count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def written_pid(pid_file: Path) -> int | None:
    text = pid_file.read_text() if pid_file.exists() else ""
    return int(text) if text else None


async def started_pid(pid_file: Path, within: float = 30) -> int:
    for _ in range(int(within * 20)):
        if (pid := written_pid(pid_file)) is not None:
            return pid
        await asyncio.sleep(0.05)
    raise AssertionError("the child never started")


async def test_results_and_errors_come_back_by_type(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    pid = await run_limited_async(f"{TARGET}:pid_then_sleep",
                                  {"pid_file": str(pid_file), "seconds": 0},
                                  time_limit=60, memory_mb=1024)
    assert pid == written_pid(pid_file) and pid != os.getpid()
    with pytest.raises(InvalidInput, match="no such frame"):
        await run_limited_async(f"{TARGET}:refuse", {"message": "no such frame"},
                                time_limit=60, memory_mb=1024)
    with pytest.raises(InvalidInput, match="no such frame"):
        await asyncio.to_thread(run_limited, f"{TARGET}:refuse", {"message": "no such frame"},
                                timeout=60, memory_mb=1024)


async def test_a_child_over_its_time_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(InvalidInput, match="tiempo límite"):
        await run_limited_async(f"{TARGET}:pid_then_sleep",
                                {"pid_file": str(pid_file), "seconds": 60},
                                time_limit=8, memory_mb=1024)
    pid = written_pid(pid_file)
    assert pid is not None and not alive(pid)


async def test_cancelling_the_awaiting_task_kills_the_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.ensure_future(run_limited_async(
        f"{TARGET}:pid_then_sleep", {"pid_file": str(pid_file), "seconds": 60},
        time_limit=120, memory_mb=1024))
    pid = await started_pid(pid_file)
    assert alive(pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Killed and reaped by the time the task has ended, not at its 120 s limit.
    assert not alive(pid)
