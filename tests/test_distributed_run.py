"""Distributed mode: the API and each stage as separate processes on RabbitMQ and the database."""

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
from pymongo import MongoClient

from common.bus import RabbitBus
from common.contracts import ChunkReady, encode
from tests.common.bus.support import AMQP_URL
from tests.distributed import namespace
from tests.embedded import free_port

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("ingress", "pipeline.decode", "pipeline.upscale", "pipeline.encode")
OID = "65f0c0ffee0123456789abcd"
__all__ = ["namespace"]  # the fixture, imported so pytest finds it here

pytestmark = pytest.mark.rabbitmq


def _dead_letters(namespace: str) -> list[str]:
    async def peek() -> list[str]:
        bus = RabbitBus(AMQP_URL, namespace=namespace, delivery_limit=2)
        await bus.start()
        try:
            return [d.message_id for d in await bus.dead_letters("decode")]
        finally:
            await bus.close()

    return asyncio.run(peek())


def test_api_and_stages_run_as_separate_processes(
    mongo_url: str, namespace: str, tmp_path: Path
) -> None:
    port = free_port()
    env = dict(
        os.environ,
        MONGO_URL=mongo_url,
        MONGO_DB=f"dist_{uuid.uuid4().hex[:8]}",
        AMQP_URL=AMQP_URL,
        BUS_NAMESPACE=namespace,
        BUS_DELIVERY_LIMIT="2",
        JWT_SECRET_KEY="k" * 40,
        API_HOST="127.0.0.1",
        API_PORT=str(port),
        DATA_DIR=str(tmp_path),
        USE_GPU="FALSE",
    )
    with _started(MODULES, ROOT, env, tmp_path) as procs:
        info: dict[str, object] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                info = httpx.get(f"http://127.0.0.1:{port}/api/info", timeout=2).json()
                stages = {w["stage"] for w in info["workers"]}  # type: ignore[attr-defined]
                if health.status_code == 200 and stages == {"decode", "upscale", "encode"}:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            output = {m: (tmp_path / f"{m}.log").read_text()[-2000:] for m in MODULES}
            pytest.fail(f"the deployment did not come up: {info} {output}")
        body = health.json()
        assert body["services"]["broker"] == "ok (rabbitmq)"
        assert body["services"]["gpu"] == "disabled (USE_GPU=FALSE)"
        assert info["mode"] == "distributed"

        # A message published by anyone reaches the decode process; decode has no handler for
        # this type, so it must end in the dead-letter queue rather than vanish.
        async def submit() -> None:
            bus = RabbitBus(AMQP_URL, namespace=namespace, delivery_limit=2)
            await bus.start()
            try:
                stray = ChunkReady(video_id=OID, chunk_index=0, chunk_count=1, chunk_blob=OID,
                                   frame_count=1, scale=2)
                await bus.publish("decode", encode(stray), message_id=f"video:{OID}")
            finally:
                await bus.close()

        asyncio.run(submit())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _dead_letters(namespace):
            time.sleep(0.5)
        assert _dead_letters(namespace) == [f"video:{OID}"]

        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for module, proc in procs.items():
            assert proc.wait(timeout=60) == 0, (tmp_path / f"{module}.log").read_text()[-2000:]


def test_workers_start_and_stop_without_the_apis_token_key(
    mongo_url: str, namespace: str, tmp_path: Path
) -> None:
    """No stage signs or checks a token, so no stage is given JWT_SECRET_KEY: each worker
    process starts, reports itself and stops cleanly with no key in its environment or in a
    .env file, while the API process refuses the same environment."""
    db_name = f"nokey_{uuid.uuid4().hex[:8]}"
    env = {key: value for key, value in os.environ.items() if key != "JWT_SECRET_KEY"}
    env.update(MONGO_URL=mongo_url, MONGO_DB=db_name, AMQP_URL=AMQP_URL,
               BUS_NAMESPACE=namespace, USE_GPU="FALSE", DATA_DIR=str(tmp_path),
               PYTHONPATH=str(ROOT))
    stages = ("pipeline.decode", "pipeline.upscale", "pipeline.encode")
    # Run from an empty folder, so the repository's .env (which has a key line) is not read.
    cwd = tmp_path / "empty"
    cwd.mkdir()

    def running() -> set[str]:
        with MongoClient(mongo_url) as client:
            return {w["stage"] for w in client[db_name]["workers"].find()}

    try:
        with _started(stages, cwd, env, tmp_path) as procs:
            deadline = time.monotonic() + 90
            while running() != {"decode", "upscale", "encode"} and time.monotonic() < deadline:
                assert all(p.poll() is None for p in procs.values()), _tails(tmp_path, stages)
                time.sleep(0.5)
            assert running() == {"decode", "upscale", "encode"}, _tails(tmp_path, stages)
            for proc in procs.values():
                proc.send_signal(signal.SIGTERM)
            for module, proc in procs.items():
                assert proc.wait(timeout=60) == 0, _tails(tmp_path, (module,))
            api = subprocess.run([sys.executable, "-m", "ingress"], cwd=cwd, env=env,
                                 capture_output=True, text=True, timeout=60, check=False)
            assert api.returncode == 2
            assert api.stderr.strip().splitlines()[-1].startswith("error: JWT_SECRET_KEY")
    finally:
        with MongoClient(mongo_url) as client:
            client.drop_database(db_name)


def _tails(folder: Path, modules: tuple[str, ...]) -> str:
    return "\n".join(f"--- {m}\n{(folder / f'{m}.log').read_text()[-1500:]}" for m in modules)


@contextmanager
def _started(modules: tuple[str, ...], cwd: Path, env: dict[str, str],
             logs: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """``python -m <module>`` for each module, logging to ``logs``; killed if still running."""
    sinks = {m: (logs / f"{m}.log").open("wb") for m in modules}
    procs = {m: subprocess.Popen([sys.executable, "-m", m], cwd=cwd, env=env, stdout=sinks[m],
                                 stderr=subprocess.STDOUT) for m in modules}
    try:
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for sink in sinks.values():
            sink.close()
