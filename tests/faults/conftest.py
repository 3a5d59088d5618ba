"""The fault suite's fixtures: one deployment for the whole package, one client per test, and
the summary line (``faults injected=… jobs_lost=… duplicate_frames=… bad_inputs=… 5xx=…``),
printed last and, with ``FAULTS_SUMMARY=<file>``, written there as JSON (``bench/faults.py``)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest

from common.bus import RabbitBus
from common.store import SecantusServer, Store
from common.store.secantus import free_port
from tests.distributed import distributed_env, distributed_service
from tests.faults.harness import (
    CONSUMER_TIMEOUT,
    DB_NAME,
    DELIVERY_LIMIT,
    LEDGER,
    NAMESPACE,
    STAGES,
    Faults,
    Suite,
)
from tests.image_models import OFFLINE_WEIGHTS
from tests.pipeline.video_support import anime_models
from tests.rabbitmq_node import private_rabbitmq

__all__ = ["anime_models"]  # the fixture, imported so pytest finds it here


@pytest.fixture(scope="package")
def suite(tmp_path_factory: pytest.TempPathFactory, anime_models: Path) -> Iterator[Suite]:
    base = tmp_path_factory.mktemp("faults")
    database = SecantusServer(base / "db", port=free_port())
    with private_rabbitmq(base / "rabbitmq", consumer_timeout=CONSUMER_TIMEOUT * 1000,
                          channel_tick_interval=1000) as broker:
        database.start_sync()
        # The URL as a deployment gives it: the services' own connection settings (journaled
        # majority writes, common/store/client.py) keep what they acknowledged through a kill.
        mongo_url = database.url
        env = distributed_env(
            mongo_url, DB_NAME, NAMESPACE, base, AMQP_URL=broker.url,
            BUS_DELIVERY_LIMIT=str(DELIVERY_LIMIT), BUS_CONSUMER_TIMEOUT_SECONDS=str(
                CONSUMER_TIMEOUT), MODELS_DIR=str(anime_models), PRECISION="fp32",
            TILE_SIZE="0", VIDEO_CHUNK_SECONDS="0.25", VIDEO_CHUNK_MAX_FRAMES="24",
            VIDEO_BATCH_FRAMES="4", VIDEO_PRESET="ultrafast", OMP_NUM_THREADS="1",
            MONGO_TIMEOUT_SECONDS="2", IMAGE_WAIT_SECONDS="60",
            # The schema fuzzer (test_schemathesis.py) submits and fails logins by the
            # thousand from one address; quotas and the login throttle have tests of their own.
            MAX_ACTIVE_JOBS_PER_USER="100000", MAX_SUBMISSIONS_PER_MINUTE="100000",
            LOGIN_MAX_FAILURES="100000", LOGIN_MAX_FAILURES_PER_IP="100000", **OFFLINE_WEIGHTS)
        try:
            with distributed_service(env, base, STAGES) as deploy:
                yield Suite(deploy, broker, database, mongo_url)
        finally:
            if database.pid is not None:
                os.kill(database.pid, signal.SIGCONT)  # a test cut short may leave it paused
            database.stop_sync()


@pytest.fixture
async def faults(suite: Suite, tmp_path: Path) -> AsyncIterator[Faults]:
    suite.ensure_running()
    store = await Store.connect(suite.mongo_url, DB_NAME, retry_seconds=30)
    bus = RabbitBus(suite.broker.url, namespace=NAMESPACE, delivery_limit=DELIVERY_LIMIT)
    await bus.start()
    http = httpx.AsyncClient(base_url=suite.deploy.url, timeout=120)
    test = Faults(suite, store, http, bus, tmp_path)
    test.timeouts_before = test.ack_timeouts()
    http.event_hooks["response"] = [test.record]
    try:
        yield test
        await test.finish()
    finally:
        await http.aclose()
        await bus.close()
        await store.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LEDGER.jobs or LEDGER.bad_inputs:
        terminalreporter.write_line(LEDGER.line())
        target = os.environ.get("FAULTS_SUMMARY")
        if target:
            Path(target).write_text(json.dumps(asdict(LEDGER)))
