"""Run the real embedded service (``python main.py``) for tests of the manual's examples.

The manual's examples talk to ``http://localhost:8888``; the service runs on a free port and
the tests substitute only that address (and the manual's placeholder values).
"""

from __future__ import annotations

import json
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
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
# The manual as shipped with the repository (tests/test_manual_copy.py keeps it current).
MANUAL = ROOT / "docs" / "user-manual.es.md"
MANUAL_URL = "http://localhost:8888"


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


def manual_code_blocks(language: str, heading: str) -> list[str]:
    """The fenced ``language`` blocks under the manual's ``heading`` (up to the next heading
    of the same or a higher level; ``#`` lines inside code blocks are not headings)."""
    level = len(heading.split(" ", 1)[0])
    blocks: list[str] = []
    inside, current, fence = False, None, False
    for line in MANUAL.read_text().splitlines(keepends=True):
        if line.startswith("```"):
            if fence and current is not None:
                blocks.append(current)
                current = None
            elif inside and line.strip() == f"```{language}":
                current = ""
            fence = not fence
            continue
        if fence:
            if current is not None:
                current += line
            continue
        if line.startswith("#"):
            marks = len(line) - len(line.lstrip("#"))
            if line.rstrip("\n") == heading:
                inside = True
            elif inside and marks <= level:
                break
    return blocks


def manual_models() -> list[dict[str, Any]]:
    """The model entries the manual prints under "Listar Modelos Disponibles", as parsed JSON."""
    (example,) = manual_code_blocks("json", "#### Listar Modelos Disponibles")
    models: list[dict[str, Any]] = json.loads(example)["models"]
    return models
