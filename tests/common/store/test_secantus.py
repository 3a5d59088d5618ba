"""The SecantusDB child process: start, stop, restart with data kept, supervision, errors."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymongo import WriteConcern

from common.errors import ServiceUnavailable
from common.store import SecantusServer, Store


async def test_data_persists_across_restart(tmp_path: Path) -> None:
    server = SecantusServer(tmp_path / "db")
    async with server:
        assert server.running and server.url.startswith("mongodb://127.0.0.1:")
        store = await Store.connect(server.url, "app", retry_seconds=5)
        await store.images.insert_one({"_id": "kept", "n": 1})
        blob = await store.blobs.put(b"pixels", filename="p.png")
        await store.close()
        pid = server.pid
    assert not server.running
    assert server.returncode == 0  # stopped by SIGTERM, cleanly, not killed

    async with SecantusServer(tmp_path / "db", port=server.port) as again:
        assert again.pid != pid
        store = await Store.connect(again.url, "app", retry_seconds=5)
        assert await store.images.find_one({"_id": "kept"}) == {"_id": "kept", "n": 1}
        assert await store.blobs.get(blob) == b"pixels"
        await store.close()


async def test_conflicts_give_clear_errors(tmp_path: Path) -> None:
    async with SecantusServer(tmp_path / "db") as server:
        # Same storage path: WiredTiger's lock refuses a second server; its stderr is quoted.
        with pytest.raises(ServiceUnavailable, match=r"(?s)exited with status.*WiredTiger"):
            await SecantusServer(tmp_path / "db", start_timeout=10).start()
        # Same port: the process answering ping is not ours.
        taken = SecantusServer(tmp_path / "other", port=server.port, start_timeout=10)
        with pytest.raises(ServiceUnavailable, match="in use"):
            await taken.start()
        assert not taken.running


def test_sync_context_manager_and_sigkill_fallback(tmp_path: Path) -> None:
    server = SecantusServer(tmp_path / "db", stop_timeout=0.5)
    with server:
        assert server.pid is not None
        # Make it deaf to SIGTERM: stop must fall back to SIGKILL within stop_timeout.
        os.kill(server.pid, signal.SIGSTOP)
        started = time.monotonic()
    assert not server.running and time.monotonic() - started < 5
    assert server.returncode == -signal.SIGKILL


_ORPHANING_PARENT = """
import os, sys
from pathlib import Path
from common.store import SecantusServer
server = SecantusServer(Path(sys.argv[1]))
server.start_sync()
print(server.pid, flush=True)
os._exit(9)  # die without stopping it
"""


def test_server_stops_when_its_parent_dies(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _ORPHANING_PARENT, str(tmp_path / "db")],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    child = int(out.stdout.split()[0])
    deadline = time.monotonic() + 15
    while _alive(child):
        assert time.monotonic() < deadline, "orphaned SecantusDB is still running"
        time.sleep(0.1)
    # It shut down cleanly: the data directory is reusable at once.
    with SecantusServer(tmp_path / "db"):
        pass


_FROZEN_ORPHAN = """
import os, signal, sys
from pathlib import Path
from common.store import SecantusServer
server = SecantusServer(Path(sys.argv[1]))
server.start_sync()
print(server.pid, flush=True)
os.kill(server.pid, signal.SIGSTOP)  # it cannot notice its parent's death and stop itself
os._exit(9)
"""


def test_a_new_start_ends_the_orphan_left_on_its_storage(tmp_path: Path) -> None:
    """A parent SIGKILLed leaves its server behind; the next start on the same storage ends
    it (here a frozen one, which would hold the WiredTiger lock forever) and starts."""
    out = subprocess.run([sys.executable, "-c", _FROZEN_ORPHAN, str(tmp_path / "db")],
                         cwd=Path(__file__).resolve().parents[3], capture_output=True,
                         text=True, timeout=60, check=False)
    orphan = int(out.stdout.split()[0])
    assert _alive(orphan)
    with SecantusServer(tmp_path / "db", stop_timeout=1.0) as server:
        assert server.running and not _alive(orphan)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    return False


async def test_supervisor_restarts_a_crashed_server(tmp_path: Path) -> None:
    server = SecantusServer(tmp_path / "db", supervise=True)
    async with server:
        store = await Store.connect(server.url, "app", retry_seconds=5)
        try:
            # j=True: like mongod with j:false, SecantusDB acknowledges a plain write before its
            # log reaches disk, so a SIGKILL right after one can lose it.
            await store.videos.with_options(write_concern=WriteConcern(j=True)).insert_one(
                {"_id": 1}
            )
            first = server.pid
            server.kill()  # a crash, not a clean stop
            deadline = time.monotonic() + 30
            while not (server.restarts and server.running):
                assert time.monotonic() < deadline, server.stderr_tail()
                await asyncio.sleep(0.2)
            assert server.pid != first and server.url == store.url  # same port
            assert server.log_path.read_bytes().count(b"secantusd starting") == 2  # appended
            # Same URL: the existing client reconnects by itself; the write survived.
            for _ in range(50):
                if await store.ping():
                    break
                await asyncio.sleep(0.2)
            assert await store.videos.find_one({"_id": 1}) == {"_id": 1}
        finally:
            await store.close()
    assert not server.running


def test_missing_storage_parent_is_created(tmp_path: Path) -> None:
    with SecantusServer(tmp_path / "a" / "b" / "db") as server:
        assert (tmp_path / "a" / "b" / "db").is_dir() and server.log_path.exists()
