"""The broker topology, declared in code and readable as data.

The RabbitMQ adapter declares exactly what :func:`topology` returns, and the AsyncAPI generator
reads the same structure, so the document cannot drift from what runs.

Naming (``ns`` is ``settings.bus_namespace``, ``q`` a logical queue such as ``"upscale"``):

* ``ns.work``         durable direct exchange every message is published to, routing key = queue;
* ``ns.dead-letter``  durable direct exchange queues dead-letter to;
* ``ns.notices``      durable fan-out exchange for ``announce``: each listening process binds a
                      private auto-delete queue to it (a notice reaches whoever listens now);
* ``ns.q``            durable quorum queue bound to ``ns.work`` with key ``ns.q``;
* ``ns.q.dead``       durable *classic* queue bound to ``ns.dead-letter`` with key ``ns.q.dead``;
* ``ns.q.delay-30s``  durable classic queue without consumers, bound to ``ns.work`` with its own
                      name as key: its messages expire after the queue's fixed TTL and are
                      dead-lettered into ``ns.q`` (``publish_later``; one queue per delay, so
                      messages expire in arrival order).

Dead-letter queues are classic on purpose: peeking at them (get, then requeue) must not count
as a delivery, and quorum queues count it (RabbitMQ 4 even applies a default delivery limit of
20, so a quorum dead-letter queue would eventually drop messages that were only looked at).

Only the stage queues are part of the declared topology; adapters declare any other logical
queue the same way on its first publish or consume (tests use throwaway names).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from common.errors import ConfigError

# ``images`` is the upscale stage's priority lane: its workers consume it beside ``upscale``
# (video chunks), so an image never waits behind a video's queued chunks.
STAGE_QUEUES: tuple[str, ...] = ("decode", "upscale", "images", "encode", "webhooks")

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$")
_DEAD_SUFFIX = ".dead"


@dataclass(frozen=True, slots=True)
class ExchangeSpec:
    name: str
    type: str = "direct"
    durable: bool = True


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    # The logical name the code uses ("upscale"), or for a dead-letter queue its source's.
    logical: str
    exchange: str
    routing_key: str
    arguments: Mapping[str, str | int] = field(default_factory=lambda: MappingProxyType({}))
    durable: bool = True
    # The dead-letter queue's name for a work queue; None for a dead-letter or delay queue.
    dead_letter_queue: str | None = None
    # A delay queue's TTL; None for the others.
    delay_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Topology:
    namespace: str
    delivery_limit: int
    exchanges: tuple[ExchangeSpec, ...]
    queues: tuple[QueueSpec, ...]


def _check(kind: str, name: str) -> str:
    if not _NAME.match(name) or name.endswith(_DEAD_SUFFIX):
        raise ConfigError(
            f"invalid bus {kind} {name!r}: use lowercase letters, digits, '-', '_' "
            f"and '.' separators, not ending in {_DEAD_SUFFIX!r}"
        )
    return name


def work_exchange(namespace: str) -> str:
    return f"{_check('namespace', namespace)}.work"


def dead_letter_exchange(namespace: str) -> str:
    return f"{_check('namespace', namespace)}.dead-letter"


def notices_exchange(namespace: str) -> str:
    return f"{_check('namespace', namespace)}.notices"


def queue_name(namespace: str, logical: str) -> str:
    """The broker name of a logical queue: ``queue_name("enhancer", "upscale")``."""
    return f"{_check('namespace', namespace)}.{_check('queue', logical)}"


def dead_letter_queue_name(namespace: str, logical: str) -> str:
    return queue_name(namespace, logical) + _DEAD_SUFFIX


def broker_delivery_limit(delivery_limit: int) -> int:
    """The ``x-delivery-limit`` argument that yields ``delivery_limit`` deliveries in all.

    A quorum queue dead-letters a message once its returns *exceed* the argument, so it is
    delivered argument + 1 times (measured on RabbitMQ 3.10: 0 → 1 delivery, 2 → 3).
    """
    if delivery_limit < 1:
        raise ConfigError(f"BUS_DELIVERY_LIMIT must be at least 1, got {delivery_limit}")
    return delivery_limit - 1


def queue_pair(namespace: str, logical: str, delivery_limit: int) -> tuple[QueueSpec, QueueSpec]:
    """A work queue and its dead-letter queue."""
    name = queue_name(namespace, logical)
    dead = dead_letter_queue_name(namespace, logical)
    work = QueueSpec(
        name=name,
        logical=logical,
        exchange=work_exchange(namespace),
        routing_key=name,
        dead_letter_queue=dead,
        arguments=MappingProxyType(
            {
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": dead_letter_exchange(namespace),
                "x-dead-letter-routing-key": dead,
                "x-delivery-limit": broker_delivery_limit(delivery_limit),
            }
        ),
    )
    dead_letters = QueueSpec(
        name=dead,
        logical=logical,
        exchange=dead_letter_exchange(namespace),
        routing_key=dead,
        arguments=MappingProxyType({"x-queue-type": "classic"}),
    )
    return work, dead_letters


def delay_label(delay_ms: int) -> str:
    """``30s``, ``10m``, ``2h`` or ``1500ms``: the largest whole unit, for readable names."""
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if delay_ms % size == 0:
            return f"{delay_ms // size}{unit}"
    return f"{delay_ms}ms"


def delay_queue(namespace: str, logical: str, delay_seconds: float) -> QueueSpec:
    """The queue that holds messages for ``logical`` during ``delay_seconds``."""
    delay_ms = round(delay_seconds * 1000)
    if delay_ms < 1:
        raise ConfigError(f"a delay must be at least 1 ms, got {delay_seconds!r} s")
    target = queue_name(namespace, logical)
    name = f"{target}.delay-{delay_label(delay_ms)}"
    return QueueSpec(
        name=name,
        logical=logical,
        exchange=work_exchange(namespace),
        routing_key=name,
        delay_ms=delay_ms,
        arguments=MappingProxyType(
            {
                "x-queue-type": "classic",
                "x-message-ttl": delay_ms,
                "x-dead-letter-exchange": work_exchange(namespace),
                "x-dead-letter-routing-key": target,
            }
        ),
    )


def topology(namespace: str, delivery_limit: int, queues: Iterable[str] = STAGE_QUEUES) -> Topology:
    """Everything declared at start-up, for the adapter and for documentation."""
    specs = tuple(spec for q in queues for spec in queue_pair(namespace, q, delivery_limit))
    return Topology(
        namespace=namespace,
        delivery_limit=delivery_limit,
        exchanges=(
            ExchangeSpec(work_exchange(namespace)),
            ExchangeSpec(dead_letter_exchange(namespace)),
            ExchangeSpec(notices_exchange(namespace), type="fanout"),
        ),
        queues=specs,
    )
