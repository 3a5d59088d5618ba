"""The message-bus port: what every stage and the API may ask of a broker.

Semantics shared by every adapter (and checked by one contract suite run against each):

* at-least-once: a message is delivered until a handler returns without raising;
* a handler that raises gets the message again, up to ``delivery_limit`` deliveries in all;
  after that (or at once, for :class:`~common.errors.PermanentFailure`) the message moves to
  the queue's dead-letter queue, where it stays for inspection;
* the ack happens after the handler returns, so a handler must store its effects first and be
  idempotent (keyed by job id and chunk index) because a crash between the two redelivers;
* ``publish`` returns only once the broker has taken responsibility for the message
  (publisher confirm); otherwise it raises :class:`~common.errors.PublishError`;
* a delivery counts whether the handler failed or its consumer went away: a message still in a
  handler when its bus closes (or its connection drops) goes back to the queue with its
  attempt spent, and is dead-lettered if that was its last one (the durable bus refunds the
  attempt of a handler cut by its own ``close``: a graceful stop is not a failure; a crash
  still spends it);
* header names starting with ``x-`` are the broker's: adapters drop them from deliveries;
* ``announce`` broadcasts a notice to every process ``listen``ing at that moment: no queue, no
  confirm, no redelivery (RabbitMQ: the fan-out exchange ``<ns>.notices`` and a private
  auto-delete queue per listener; in memory: callbacks). It is a hint that something changed
  in the database, never the only way to learn it: whoever waits on it also polls, slowly;
* ``publish_later`` hands the broker a message it keeps for ``delay`` seconds before putting it
  on the queue (RabbitMQ: a per-delay queue with a TTL that dead-letters into the work queue;
  durable bus: a stored message that becomes visible later; in memory: a timer), so a retry
  schedule survives the publishing process (in memory, only while the process lives).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery of a message to a handler."""

    queue: str
    body: bytes
    message_id: str
    # 1 on the first delivery, 2 on the first redelivery, ... In ``dead_letters()``: the
    # deliveries it had, which is ``delivery_limit`` when it ran out of them; for a message
    # rejected with PermanentFailure RabbitMQ keeps no count, so adapters report 1 there.
    attempt: int
    # In ``dead_letters()`` also DEATH_REASON_HEADER: "delivery_limit" or "rejected".
    headers: Mapping[str, str] = field(default_factory=dict)


DEATH_REASON_HEADER = "x-death-reason"
# The job a message advances (``common.messaging.publish`` sets it).
JOB_HEADER = "job"


@dataclass(frozen=True, slots=True)
class QueueDepth:
    ready: int
    dead: int


def visible_headers(raw: Mapping[str, object] | None) -> dict[str, str]:
    """The application's headers of a message, without the broker's ``x-`` ones."""
    return {k: str(v) for k, v in (raw or {}).items() if not k.lower().startswith("x-")}


Handler = Callable[[Delivery], Awaitable[None]]
# Receives each notice's body (see ``Bus.announce``); called on the event loop, must not block.
Listener = Callable[[bytes], None]


@runtime_checkable
class Bus(Protocol):
    """A broker connection. Queue names are logical (``"upscale"``); adapters namespace them."""

    delivery_limit: int

    async def start(self) -> None:
        """Connect and declare the topology (idempotent)."""

    async def close(self) -> None:
        """Stop consuming, let in-flight handlers finish (publishing and acking as usual) or
        be nacked after the grace period, then refuse publishes and disconnect."""

    async def publish(
        self,
        queue: str,
        body: bytes,
        *,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Enqueue ``body`` on ``queue``; raise ``PublishError`` unless confirmed."""

    async def publish_later(
        self,
        queue: str,
        body: bytes,
        *,
        delay: float,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Enqueue ``body`` on ``queue`` once ``delay`` seconds have passed; the broker holds
        it meanwhile. Raise ``PublishError`` unless confirmed."""

    async def consume(
        self, queue: str, handler: Handler, *, concurrency: int = 1, prefetch: int | None = None
    ) -> None:
        """Start delivering ``queue``'s messages to ``handler``, ``concurrency`` at a time,
        holding at most ``prefetch`` unacknowledged (None: the bus's default; never fewer
        than ``concurrency``)."""

    async def announce(self, body: bytes) -> None:
        """Broadcast ``body`` to the current listeners; best effort (never raises for a
        broker that is away: the notice is a hint, see the module doc)."""

    async def listen(self, listener: Listener) -> None:
        """Call ``listener`` with every notice announced from now on."""

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[Delivery]:
        """Peek at up to ``limit`` messages dead-lettered from ``queue`` (they stay there)."""

    async def purge(self, queue: str) -> None:
        """Drop every ready message of ``queue`` and of its dead-letter queue."""

    async def healthy(self) -> bool:
        """Whether the broker is reachable right now."""

    async def depths(self, queue: str) -> QueueDepth:
        """How many messages wait in ``queue`` and in its dead-letter queue (metrics)."""

    async def jobs_with_messages(self, queues: list[str], job_ids: list[str]) -> set[str] | None:
        """Which of ``job_ids`` have a message (ready, delayed or in a handler) in ``queues``,
        by the ``JOB_HEADER`` their publisher set; None when the broker cannot be searched
        (RabbitMQ)."""
