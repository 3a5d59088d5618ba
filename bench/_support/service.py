"""The real embedded service (``python main.py``) as a child process, for benches and tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
# The address the manual's examples use; a service on another port substitutes only this.
MANUAL_URL = "http://localhost:8888"
# Environment for processes that must not download weights: a download is attempted for a
# missing file (the real code path) and refused at once by a closed local port, instead of
# timing out.
OFFLINE_WEIGHTS = {"WEIGHTS_BASE_URL": "http://127.0.0.1:9"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Service:
    url: str
    log: Path
    data_dir: Path

    def localize(self, text: str) -> str:
        """The manual's text pointed at this service instead of localhost:8888."""
        return text.replace(MANUAL_URL, self.url)

    def log_tails(self, chars: int = 1500) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, seconds: float) -> None:
    """Until ``url``'s ``/api/health`` answers 200; RuntimeError with the log if ``proc``
    exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the service did not become healthy:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


@contextmanager
def embedded_service(tmp_path: Path, **env_overrides: str) -> Iterator[Service]:
    """Start ``main.py`` with its own data directory, wait until healthy, stop on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URL", "AMQP_URL")}
    env.update(
        API_PORT=str(port),
        API_HOST="127.0.0.1",
        DATA_DIR=str(tmp_path / "data"),
        JWT_SECRET_KEY="",
        **env_overrides,
    )
    log = tmp_path / "service.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "main.py"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, log, 120)
        yield Service(url=url, log=log, data_dir=tmp_path / "data")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
