"""Run the service as separate processes (distributed mode) for end-to-end tests.

``Deployment`` starts ``python -m <module>`` processes sharing one database and one RabbitMQ
namespace, keeps a log per process and can SIGKILL one to play a lost worker.
``distributed_service`` adds the HTTP API and waits until it answers and every stage it
started has reported a heartbeat.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.common.bus.support import AMQP_URL, delete_namespace, rabbitmq_reachable
from tests.embedded import MANUAL_URL, free_port
from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def namespace() -> Iterator[str]:
    """A fresh broker namespace, deleted afterwards (skips locally, fails under CI, without
    RabbitMQ). Sync: the deployments these tests drive are sync too."""
    if not asyncio.run(rabbitmq_reachable()):
        unavailable("RabbitMQ")
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    asyncio.run(delete_namespace(name))


def distributed_env(mongo_url: str, db_name: str, namespace: str, data_dir: Path,
                    **overrides: str) -> dict[str, str]:
    """The environment every process of one deployment shares."""
    env = dict(
        os.environ, MONGO_URL=mongo_url, MONGO_DB=db_name, AMQP_URL=AMQP_URL,
        BUS_NAMESPACE=namespace, JWT_SECRET_KEY="k" * 40, DATA_DIR=str(data_dir),
        USE_GPU="FALSE", LOG_LEVEL="INFO",
    )
    env.update(overrides)
    return env


class Deployment:
    """Stage (and API) processes of one deployment; ``url`` is set once the API runs."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.url = ""

    def start(self, name: str, module: str) -> None:
        """Start (or restart: the log is appended to) ``python -m module`` as ``name``."""
        with (self.logs / f"{name}.log").open("ab") as sink:
            self.procs[name] = subprocess.Popen([sys.executable, "-m", module], cwd=ROOT,
                                                env=self.env, stdout=sink,
                                                stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        """SIGKILL: no clean-up, no ack; what a crashed or OOM-killed worker leaves behind."""
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def terminate(self, name: str, within: float = 60) -> int:
        """SIGTERM (``docker stop``): the process finishes what it holds and exits."""
        self.procs[name].send_signal(signal.SIGTERM)
        return self.procs[name].wait(timeout=within)

    def running(self, name: str) -> bool:
        return name in self.procs and self.procs[name].poll() is None

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def log_tails(self, chars: int = 1500) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-chars:]}" for name in self.procs)

    def localize(self, text: str) -> str:
        return text.replace(MANUAL_URL, self.url)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until_serving(deploy: Deployment, stages: set[str], within: float = 120) -> None:
    """Until ``/api/health`` answers 200 and every stage in ``stages`` has a live worker."""
    deadline = time.monotonic() + within
    seen: set[str] = set()
    while time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in deploy.procs.values()):
            break
        try:
            health = httpx.get(f"{deploy.url}/api/health", timeout=2)
            info = httpx.get(f"{deploy.url}/api/info", timeout=2).json()
            seen = {worker["stage"] for worker in info["workers"]}
            if health.status_code == 200 and stages <= seen:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the deployment did not come up (workers seen: {seen}):\n"
                       f"{deploy.log_tails(3000)}")


@contextmanager
def distributed_service(env: dict[str, str], logs: Path,
                        stages: dict[str, str]) -> Iterator[Deployment]:
    """The API plus ``stages`` (process name → module), serving; all stopped on exit."""
    port = free_port()
    deploy = Deployment(dict(env, API_HOST="127.0.0.1", API_PORT=str(port)), logs)
    deploy.url = f"http://127.0.0.1:{port}"
    try:
        deploy.start("ingress", "ingress")
        for name, module in stages.items():
            deploy.start(name, module)
        wait_until_serving(deploy, {module.rsplit(".", 1)[-1] for module in stages.values()})
        yield deploy
    finally:
        deploy.stop_all()
