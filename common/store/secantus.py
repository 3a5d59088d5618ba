"""Run a local SecantusDB server as a child process (the embedded run and the test suite).

SecantusDB speaks the MongoDB wire protocol, so everything else talks to it through the same
``AsyncMongoClient`` code as to a real MongoDB; only this module knows it is a local process.

The child is ``sys.executable`` running ``secantus.cli.main`` (what the ``secantusd-py``
console script runs) through ``secantusd_launcher.py``: the interpreter that imports this
module is the one whose environment has the ``secantusdb`` dependency, which a ``PATH``
lookup of ``secantusd-py`` would not guarantee (an unactivated venv, a system install).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from common.errors import ServiceUnavailable

log = logging.getLogger(__name__)

# Run by path, not imported: see that file for why the child is not plain secantusd-py.
_LAUNCHER = Path(__file__).with_name("secantusd_launcher.py")
_STDERR_TAIL_BYTES = 4000
_RUN_MARKER = b"\n--- secantusd starting ---\n"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (another process may still take it before us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class SecantusServer:
    """One ``secantusd`` child process on ``host:port`` storing into ``storage_path``.

    ``start_sync``/``stop_sync`` use no event loop (a session-scoped pytest fixture outlives
    every test's loop); ``start``/``stop`` are the same steps without blocking the loop.
    ``supervise=True`` makes ``start`` launch a task that restarts the server if it dies.
    """

    def __init__(
        self,
        storage_path: Path,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        supervise: bool = False,
        log_path: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.storage_path = Path(storage_path)
        self.host = host
        self._fixed_port = port
        self.port = port if port is not None else free_port(host)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.supervise = supervise
        # Not inside storage_path: that directory belongs to WiredTiger.
        self.log_path = log_path or self.storage_path.with_name(self.storage_path.name + ".log")
        # "<server pid> <parent pid>": lets the next start on this storage end an orphan.
        self.pid_path = self.storage_path.with_name(self.storage_path.name + ".pid")
        self.extra_args = extra_args
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}/"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        """The last process's exit status (0 after a clean stop, -9 after SIGKILL)."""
        return self._proc.poll() if self._proc else None

    def command(self) -> list[str]:
        return [
            # -P: no script directory on sys.path, where our own secantus.py would shadow
            # the secantus package.
            sys.executable, "-P", str(_LAUNCHER),
            "--host", self.host, "--port", str(self.port),
            "--storage-path", str(self.storage_path), *self.extra_args,
        ]  # fmt: skip

    # ---- start -------------------------------------------------------------------------

    def start_sync(self) -> None:
        """Spawn the server and return once it answers ``ping``; raise ServiceUnavailable."""
        self._start(may_move=self._fixed_port is None)

    def _start(self, *, may_move: bool) -> None:
        if importlib.util.find_spec("secantus") is None:
            raise ServiceUnavailable(f"SecantusDB is not installed for {sys.executable}")
        if self.running:
            return
        self._stopping = False
        # A free port found earlier can be taken by someone else in between: pick another,
        # unless clients already hold our URL (a supervised restart).
        attempts = 3 if may_move else 1
        for attempt in range(attempts):
            self._spawn()
            try:
                self._wait_ready()
                return
            except ServiceUnavailable as exc:
                self._terminate()
                if attempt + 1 == attempts or "in use" not in f"{exc}":
                    raise
                self.port = free_port(self.host)

    async def start(self) -> None:
        await asyncio.to_thread(self.start_sync)
        if self.supervise and self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name="secantus-supervisor")

    def _spawn(self) -> None:
        self._end_orphan()
        self.storage_path.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_log()
        # A file, not a pipe that nobody drains (that would block the server); appended to, so
        # a restart keeps the log of the crash before it.
        self._log_file = self.log_path.open("ab")
        self._log_file.write(_RUN_MARKER)
        self._log_file.flush()
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            # Own process group: Ctrl-C reaches only us, and we stop the server in order
            # (the supervisor must not see it die first and restart it).
            start_new_session=True,
        )
        self.pid_path.write_text(f"{self._proc.pid} {os.getpid()}\n")
        log.info(
            "started SecantusDB pid %s on %s (%s)", self._proc.pid, self.url, self.storage_path
        )

    def _end_orphan(self) -> None:
        """End the server a killed parent left on this storage (its own watch of the parent
        stops it within a second, but a new start must not race its shutdown for the
        WiredTiger lock; a frozen one never stops). A server whose parent lives is no orphan
        and is left alone: the start then fails on the lock, as it should."""
        try:
            pid, parent = map(int, self.pid_path.read_text().split())
        except (OSError, ValueError):
            return
        if not _is_server(pid, self.storage_path) or _alive(parent):
            return
        log.warning("SecantusDB pid %s on %s outlived its parent (pid %s); ending it", pid,
                    self.storage_path, parent)
        deadline = time.monotonic() + self.stop_timeout
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            while _is_server(pid, self.storage_path) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _is_server(pid, self.storage_path):
                os.kill(pid, signal.SIGKILL)
        while _is_server(pid, self.storage_path):  # the kernel releases its locks on exit
            time.sleep(0.05)

    def _wait_ready(self) -> None:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        deadline = time.monotonic() + self.start_timeout
        client: MongoClient[dict[str, object]] = MongoClient(
            self.url, serverSelectionTimeoutMS=500, connectTimeoutMS=500, directConnection=True
        )
        try:
            while True:
                if self._proc is None or self._proc.poll() is not None:
                    code = None if self._proc is None else self._proc.returncode
                    raise ServiceUnavailable(self._failure(f"exited with status {code}"))
                try:
                    # serverStatus names the answering process: a ping alone could be answered
                    # by another server that already holds the port while ours fails to bind.
                    pid = client.admin.command("serverStatus").get("pid")
                    if pid == self._proc.pid:
                        return
                    raise ServiceUnavailable(
                        self._failure(f"port {self.port} is in use by another server (pid {pid})")
                    )
                except PyMongoError:
                    if time.monotonic() > deadline:
                        raise ServiceUnavailable(
                            self._failure(f"did not answer ping within {self.start_timeout:g}s")
                        ) from None
                    time.sleep(0.1)
        finally:
            client.close()

    def _failure(self, what: str) -> str:
        return (
            f"SecantusDB on {self.url} (storage {self.storage_path}) {what}; "
            f"log {self.log_path} ends with:\n{self.stderr_tail()}"
        )

    def stderr_tail(self) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - _STDERR_TAIL_BYTES))
                tail = f.read()
        except OSError:
            return "(no log)"
        return tail.rpartition(_RUN_MARKER)[2].decode("utf-8", "replace").strip()

    # ---- stop --------------------------------------------------------------------------

    def stop_sync(self) -> None:
        """SIGTERM (secantus checkpoints and exits), then SIGKILL after ``stop_timeout``."""
        self._stopping = True
        self._terminate()

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await asyncio.to_thread(self._terminate)

    def kill(self) -> None:
        """SIGKILL without a clean shutdown (tests use it to simulate a crash)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def _terminate(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + self.stop_timeout
            while proc.poll() is None and time.monotonic() < deadline:
                self._poke()
                time.sleep(0.05)
            if proc.poll() is None:
                log.warning("SecantusDB pid %s ignored SIGTERM; killing it", proc.pid)
                proc.kill()
            proc.wait()
        self._close_log()

    def _poke(self) -> None:
        # secantus's shutdown closes its listening socket and then waits up to 2 s for the
        # accept thread, which close() does not wake on Linux; one connection wakes it.
        with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 0.2):
            pass

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # ---- supervision -------------------------------------------------------------------

    async def _supervise(self) -> None:
        """Restart the server on the same port (clients reconnect on their own) if it dies."""
        backoff = 0.5
        while not self._stopping:
            await asyncio.sleep(0.5)
            if self._stopping or self.running:
                continue
            code = self._proc.returncode if self._proc else None
            log.error("SecantusDB exited (status %s); restarting:\n%s", code, self.stderr_tail())
            try:
                await asyncio.to_thread(self._start, may_move=False)
                self.restarts += 1
                backoff = 0.5
            except ServiceUnavailable as exc:
                log.error("SecantusDB restart failed, retrying in %.1fs: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    # ---- context managers --------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def __enter__(self) -> Self:
        self.start_sync()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_sync()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited and waiting to be reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _is_server(pid: int, storage_path: Path) -> bool:
    """Whether ``pid`` is a live SecantusDB launcher serving ``storage_path``."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return (_alive(pid) and any(part.endswith(_LAUNCHER.name.encode()) for part in command)
            and str(storage_path).encode() in command)
