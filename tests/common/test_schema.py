"""The published JSON Schema and AsyncAPI documents match the code that runs."""

from __future__ import annotations

import json
from pathlib import Path

from common.bus.topology import STAGE_QUEUES, delay_queue, topology
from common.contracts import MESSAGE_TYPES
from common.schema import ASYNCAPI_FILE, DOCS, SCHEMA_FILE, asyncapi, main, render
from common.settings import Settings


def test_committed_documents_are_fresh() -> None:
    for name, text in render().items():
        committed = (DOCS / name).read_text()
        assert committed == text, f"docs/{name} is stale: run python -m common.schema"


def test_check_mode_detects_a_stale_file(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / ASYNCAPI_FILE).write_text("{}")
    assert main(["--check", "--out", str(tmp_path)]) == 1


def test_asyncapi_describes_every_queue_and_its_dead_letters() -> None:
    doc = asyncapi()
    addresses = {c["address"] for c in doc["channels"].values()}
    topo = topology("enhancer", 5)
    waiting = {delay_queue("enhancer", "webhooks", s).name
               for s in Settings.model_fields["webhook_retry_delays"].default}
    assert waiting and addresses == {q.name for q in topo.queues} | waiting
    for logical in STAGE_QUEUES:
        assert f"enhancer.{logical}" in addresses
        assert f"enhancer.{logical}.dead" in addresses
    work = doc["channels"]["enhancer_upscale"]["bindings"]["amqp"]["queue"]["x-arguments"]
    assert work["x-queue-type"] == "quorum"
    assert work["x-dead-letter-exchange"] == "enhancer.dead-letter"


def test_every_message_is_documented_on_its_queue() -> None:
    doc = asyncapi()
    for model in MESSAGE_TYPES:
        channel = doc["channels"][f"enhancer_{model.queue}"]
        assert model.__name__ in channel["messages"]
        assert model.__name__ in doc["components"]["schemas"]
    schema = json.loads(render()[SCHEMA_FILE])
    assert {m.__name__ for m in MESSAGE_TYPES} <= set(schema["$defs"])


def test_delay_queues_expire_into_the_webhooks_queue() -> None:
    channel = asyncapi()["channels"]["enhancer_webhooks_delay-10s"]
    queue = channel["bindings"]["amqp"]["queue"]
    assert queue["x-arguments"] == {
        "x-queue-type": "classic", "x-message-ttl": 10_000,
        "x-dead-letter-exchange": "enhancer.work", "x-dead-letter-routing-key": "enhancer.webhooks"}
    assert "WebhookRequested" in channel["messages"]
