"""The durable bus: the embedded run's broker, its queues stored in the embedded database.

Same semantics as the RabbitMQ adapter (see :mod:`common.bus.port`, checked by one contract
suite on every adapter), and what the process keeps in memory is only what it may lose: every
message, ready, delayed or in a handler, is a document (:mod:`common.bus.stored_queue`), so
a stop, a crash or an upgrade resumes where the work was.

* **Wake-ups.** A publish wakes this process's idle consumers of that queue at once (no
  polling on the hot path). Consumers in other processes sharing the database, delayed
  messages and leases that ran out are found by an idle consumer's timer: it sleeps until the
  queue's next ``visible_at`` or ``poll_seconds``, whichever comes first.
* **Leases.** A running handler's lease is pushed ahead every third of ``lease_seconds``; a
  process that dies holding messages gives them back when their leases end (a crash spends
  the delivery, as a closed channel does on RabbitMQ). ``recover()`` gives them back at once,
  for the one process that owns the database (``python main.py`` at start).
* **Graceful stop.** ``close`` waits ``close_timeout`` for handlers to finish (and ack), then
  cancels the rest and gives their messages back *uncounted*: a stop is not a failed attempt,
  so stopping a service mid-chunk any number of times never dead-letters the chunk.
* **Notices** (``announce``/``listen``) reach the listeners of this process only: in the
  embedded run the API and every stage share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Mapping
from datetime import UTC
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from common.bus.port import (
    DEATH_REASON_HEADER,
    Delivery,
    Handler,
    Listener,
    QueueDepth,
    visible_headers,
)
from common.bus.stored_queue import StoredQueues, Taken
from common.bus.topology import broker_delivery_limit, queue_name
from common.errors import ConfigError, PermanentFailure, PublishError, ServiceUnavailable
from common.store.ids import utcnow

log = logging.getLogger(__name__)

# Idle consumers and notice listeners of this process, per database and queue: shared by
# every DatabaseBus on that database, as several processes share one broker.
_IDLE: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
_LISTENERS: defaultdict[str, list[Listener]] = defaultdict(list)


class DatabaseBus:
    """A bus whose queues live in ``db``; see the module doc."""

    def __init__(
        self,
        db: AsyncDatabase[Any],
        *,
        delivery_limit: int = 5,
        namespace: str = "enhancer",
        lease_seconds: float = 30.0,
        close_timeout: float = 3.0,
        poll_seconds: float = 1.0,
    ) -> None:
        broker_delivery_limit(delivery_limit)  # validated like the RabbitMQ adapter's
        self.delivery_limit = delivery_limit
        self.namespace = namespace
        self._queues = StoredQueues(db, lease_seconds=lease_seconds)
        self._lease_seconds = lease_seconds
        self._close_timeout = close_timeout
        self._poll_seconds = poll_seconds
        self._key = db.name
        self._workers: set[asyncio.Task[None]] = set()
        self._busy: set[asyncio.Task[None]] = set()
        self._listeners: list[Listener] = []  # this bus's, unregistered by close()
        self._stopping = False
        self._closed = False

    async def start(self) -> None:
        if self._stopping:
            raise ServiceUnavailable("the bus is closed")
        await self._queues.ensure_indexes()

    async def recover(self) -> int:
        """Give back every leased message now (their holder is gone); only for a process
        that is sure to be the database's only consumer."""
        released = await self._queues.release_all_leases()
        if released:
            log.info("bus: %d message(s) held by a stopped process are queued again", released)
        return released

    async def close(self) -> None:
        self._stopping = True
        for task in self._workers - self._busy:
            task.cancel()
        busy = set(self._busy)
        if busy:
            await asyncio.wait(busy, timeout=self._close_timeout)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        for listener in self._listeners:
            _LISTENERS[self._key].remove(listener)
        self._listeners.clear()
        self._closed = True

    async def publish(self, queue: str, body: bytes, *, message_id: str,
                      headers: Mapping[str, str] | None = None) -> None:
        await self._put(queue, body, message_id, headers, 0.0)

    async def publish_later(self, queue: str, body: bytes, *, delay: float, message_id: str,
                            headers: Mapping[str, str] | None = None) -> None:
        if delay < 0.001:
            raise ConfigError(f"a delay must be at least 1 ms, got {delay!r} s")
        await self._put(queue, body, message_id, headers, delay)

    async def _put(self, queue: str, body: bytes, message_id: str,
                   headers: Mapping[str, str] | None, delay: float) -> None:
        if self._closed:
            raise PublishError("the bus is closed")
        name = self._name(queue)
        try:
            await self._queues.put(name, bytes(body), message_id, dict(headers or {}),
                                   delay=delay)
        except Exception as exc:  # the database is away: the caller's publish failed
            raise PublishError(f"could not store the message: {exc}") from exc
        if delay == 0.0:
            for idle in _IDLE[self._wake_key(name)]:
                idle.set()

    async def consume(self, queue: str, handler: Handler, *, concurrency: int = 1,
                      prefetch: int | None = None) -> None:
        # No prefetch: a worker takes a message only when its handler is free.
        if concurrency < 1:
            raise ConfigError(f"consumer concurrency must be at least 1, got {concurrency}")
        await self.start()
        for n in range(concurrency):
            task = asyncio.create_task(self._work(queue, handler), name=f"bus-{queue}-{n}")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def announce(self, body: bytes) -> None:
        for listener in list(_LISTENERS[self._key]):
            try:
                listener(body)
            except Exception:  # one listener's bug is not the announcer's failure
                log.exception("a notice listener failed")

    async def listen(self, listener: Listener) -> None:
        _LISTENERS[self._key].append(listener)
        self._listeners.append(listener)

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[Delivery]:
        return [
            Delivery(queue=queue, body=bytes(doc["body"]), message_id=doc["message_id"],
                     attempt=self.delivery_limit if doc["reason"] == "delivery_limit" else 1,
                     headers=visible_headers(doc.get("headers"))
                     | {DEATH_REASON_HEADER: doc["reason"]})
            for doc in await self._queues.dead(self._name(queue), limit)
        ]

    async def purge(self, queue: str) -> None:
        await self._queues.purge(self._name(queue))

    async def healthy(self) -> bool:
        return not self._stopping

    async def depths(self, queue: str) -> QueueDepth:
        ready, dead = await self._queues.depths(self._name(queue))
        return QueueDepth(ready=ready, dead=dead)

    async def jobs_with_messages(self, queues: list[str], job_ids: list[str]) -> set[str]:
        return await self._queues.holding([self._name(q) for q in queues], job_ids)

    def _name(self, logical: str) -> str:
        return queue_name(self.namespace, logical)

    def _wake_key(self, name: str) -> str:
        return f"{self._key}/{name}"

    async def _work(self, logical: str, handler: Handler) -> None:
        me = asyncio.current_task()
        assert me is not None
        name = self._name(logical)
        wake = asyncio.Event()
        _IDLE[self._wake_key(name)].add(wake)
        try:
            while not self._stopping:
                wake.clear()
                try:
                    taken = await self._queues.take(name)
                except Exception:  # the database restarts (supervised): try again shortly
                    log.warning("bus: could not take from %s", name, exc_info=True)
                    await asyncio.sleep(self._poll_seconds)
                    continue
                if taken is None:
                    await self._idle(name, wake)
                elif taken.deliveries > self.delivery_limit:
                    # Its last delivery died with its process: RabbitMQ dead-letters it too.
                    await self._settle(self._queues.bury(taken, "delivery_limit"))
                else:
                    self._busy.add(me)
                    try:
                        await self._deliver(logical, taken, handler)
                    finally:
                        self._busy.discard(me)
        finally:
            _IDLE[self._wake_key(name)].discard(wake)

    async def _idle(self, name: str, wake: asyncio.Event) -> None:
        timeout = self._poll_seconds
        try:
            due = await self._queues.next_visible(name)
        except Exception:
            due = None
        if due is not None:
            due = due if due.tzinfo else due.replace(tzinfo=UTC)
            timeout = max(0.0, min(timeout, (due - utcnow()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)

    async def _deliver(self, logical: str, taken: Taken, handler: Handler) -> None:
        delivery = Delivery(queue=logical, body=taken.body, message_id=taken.message_id,
                            attempt=taken.deliveries, headers=visible_headers(taken.headers))
        keep = asyncio.create_task(self._keep_lease(taken))
        try:
            await handler(delivery)
        except PermanentFailure as exc:
            log.warning("%s %s rejected: %s", logical, taken.message_id, exc)
            await self._settle(self._queues.bury(taken, "rejected"))
        except asyncio.CancelledError:
            # Cut by close(): back to the queue at once, the delivery refunded.
            await self._settle(self._queues.give_back(taken, counted=False))
            raise
        except Exception:
            log.warning("%s %s failed on attempt %d", logical, taken.message_id,
                        taken.deliveries, exc_info=True)
            if taken.deliveries >= self.delivery_limit:
                await self._settle(self._queues.bury(taken, "delivery_limit"))
            else:
                await self._settle(self._queues.give_back(taken, counted=True))
        else:
            if not await self._settle(self._queues.ack(taken)):
                log.warning("%s %s: its lease ran out before the ack; it will be delivered "
                            "again", logical, taken.message_id)
        finally:
            keep.cancel()

    @staticmethod
    async def _settle(outcome: Awaitable[Any]) -> Any:
        """Record a delivery's end; if the database is away, the lease runs out and the
        message is delivered again (at-least-once), so the worker goes on either way."""
        try:
            return await outcome
        except Exception:
            log.warning("bus: could not record a delivery's end", exc_info=True)
            return None

    async def _keep_lease(self, taken: Taken) -> None:
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            try:
                if not await self._queues.extend(taken):
                    log.warning("bus: lost the lease of %s", taken.message_id)
                    return
            except Exception:
                log.warning("bus: could not extend the lease of %s", taken.message_id,
                            exc_info=True)
