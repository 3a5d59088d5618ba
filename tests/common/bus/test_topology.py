"""The declared topology as data: names, arguments, the delivery-limit translation."""

from __future__ import annotations

import pytest

from common.bus.topology import (
    STAGE_QUEUES,
    broker_delivery_limit,
    delay_queue,
    queue_name,
    topology,
)
from common.errors import ConfigError


def test_stage_queues_and_names() -> None:
    assert STAGE_QUEUES == ("decode", "upscale", "images", "encode", "webhooks")
    assert queue_name("enhancer", "upscale") == "enhancer.upscale"


def test_topology_declares_quorum_queues_with_dead_letter_queues() -> None:
    plan = topology("enhancer", delivery_limit=5)
    assert [(e.name, e.type, e.durable) for e in plan.exchanges] == [
        ("enhancer.work", "direct", True),
        ("enhancer.dead-letter", "direct", True),
        ("enhancer.notices", "fanout", True),
    ]
    by_name = {q.name: q for q in plan.queues}
    assert sorted(by_name) == sorted(
        [f"enhancer.{q}" for q in STAGE_QUEUES] + [f"enhancer.{q}.dead" for q in STAGE_QUEUES]
    )
    upscale = by_name["enhancer.upscale"]
    assert upscale.durable and upscale.logical == "upscale"
    assert (upscale.exchange, upscale.routing_key) == ("enhancer.work", "enhancer.upscale")
    assert upscale.dead_letter_queue == "enhancer.upscale.dead"
    assert dict(upscale.arguments) == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "enhancer.dead-letter",
        "x-dead-letter-routing-key": "enhancer.upscale.dead",
        "x-delivery-limit": 4,
    }
    dead = by_name["enhancer.upscale.dead"]
    assert (dead.exchange, dead.routing_key) == ("enhancer.dead-letter", "enhancer.upscale.dead")
    assert dict(dead.arguments) == {"x-queue-type": "classic"}
    assert dead.dead_letter_queue is None


def test_delivery_limit_is_total_deliveries() -> None:
    # RabbitMQ delivers a quorum-queue message x-delivery-limit + 1 times (measured on 3.10).
    assert [broker_delivery_limit(n) for n in (1, 2, 5)] == [0, 1, 4]
    with pytest.raises(ConfigError, match="BUS_DELIVERY_LIMIT"):
        broker_delivery_limit(0)


@pytest.mark.parametrize("bad", ["", "Upscale", "a b", "jobs.dead", ".x", "x."])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        queue_name("enhancer", bad)


def test_delay_queues_expire_into_their_work_queue() -> None:
    spec = delay_queue("enhancer", "webhooks", 30)
    assert (spec.name, spec.exchange, spec.routing_key) == (
        "enhancer.webhooks.delay-30s", "enhancer.work", "enhancer.webhooks.delay-30s")
    assert dict(spec.arguments) == {
        "x-queue-type": "classic",
        "x-message-ttl": 30_000,
        "x-dead-letter-exchange": "enhancer.work",
        "x-dead-letter-routing-key": "enhancer.webhooks",
    }
    names = [delay_queue("ns", "q", s).name for s in (0.25, 1, 120, 7200)]
    assert names == ["ns.q.delay-250ms", "ns.q.delay-1s", "ns.q.delay-2m", "ns.q.delay-2h"]
    with pytest.raises(ConfigError):
        delay_queue("ns", "q", 0)
