"""The in-process bus: the embedded run's broker, with RabbitMQ's delivery semantics.

It mirrors what the RabbitMQ adapter does on a quorum queue, so code tested here behaves the
same there: returned messages are served before new ones, a delivery counts whether the
handler failed or its consumer closed, and a message that used its last delivery goes to the
queue's dead-letter list. Several ``MemoryBus`` objects sharing one :class:`MemoryBroker`
behave like several connections to one broker (competing consumers, redelivery to another).
Nothing survives the process: that is the price of needing no services.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from common.bus.port import (
    DEATH_REASON_HEADER,
    Delivery,
    Handler,
    Listener,
    QueueDepth,
    visible_headers,
)
from common.bus.topology import broker_delivery_limit, queue_name
from common.errors import ConfigError, PermanentFailure, PublishError, ServiceUnavailable

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Message:
    body: bytes
    message_id: str
    headers: dict[str, str]
    deliveries: int = 0


@dataclass(slots=True)
class _Queue:
    ready: deque[_Message] = field(default_factory=deque)
    dead: list[Delivery] = field(default_factory=list)
    getters: deque[asyncio.Future[None]] = field(default_factory=deque)

    def put(self, message: _Message, *, front: bool = False) -> None:
        if front:
            self.ready.appendleft(message)
        else:
            self.ready.append(message)
        self.wake_one()

    def wake_one(self) -> None:
        while self.getters:
            getter = self.getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    async def take(self) -> _Message:
        while not self.ready:
            getter = asyncio.get_running_loop().create_future()
            self.getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                # Woken and cancelled at once: hand the wake-up to another worker.
                if getter.done() and not getter.cancelled():
                    self.wake_one()
                raise
        return self.ready.popleft()


class MemoryBroker:
    """Queues shared by every ``MemoryBus`` built on it."""

    def __init__(self) -> None:
        self._queues: dict[str, _Queue] = {}
        self.listeners: list[Listener] = []

    def queue(self, name: str) -> _Queue:
        return self._queues.setdefault(name, _Queue())


class MemoryBus:
    """An asyncio bus; see :mod:`common.bus.port` for the semantics."""

    def __init__(
        self,
        *,
        delivery_limit: int = 5,
        namespace: str = "enhancer",
        broker: MemoryBroker | None = None,
        close_timeout: float = 30.0,
    ) -> None:
        broker_delivery_limit(delivery_limit)  # validates it like the RabbitMQ adapter does
        self.delivery_limit = delivery_limit
        self.namespace = namespace
        self.broker = broker or MemoryBroker()
        self._close_timeout = close_timeout
        self._workers: set[asyncio.Task[None]] = set()
        self._busy: set[asyncio.Task[None]] = set()
        # Messages published for later: a timer each, like a TTL queue's wait.
        self._timers: set[asyncio.TimerHandle] = set()
        self._stopping = False  # workers take no more messages
        self._closed = False  # publishes are refused too

    async def start(self) -> None:
        if self._stopping:
            raise ServiceUnavailable("the bus is closed")

    async def close(self) -> None:
        # Workers stop taking messages; busy handlers may still publish until they are done,
        # then publishing closes too (see RabbitBus.close).
        self._stopping = True
        idle = self._workers - self._busy
        for task in idle:
            task.cancel()
        busy = set(self._busy)
        if busy:
            # Handlers may finish (and ack) until the timeout; then they are cancelled and
            # their messages go back to the queue, as a closed channel's would.
            await asyncio.wait(busy, timeout=self._close_timeout)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        self._closed = True
        for timer in self._timers:  # nothing survives the process: the price of no services
            timer.cancel()
        self._timers.clear()

    async def publish(
        self,
        queue: str,
        body: bytes,
        *,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if self._closed:
            raise PublishError("the bus is closed")
        self._queue(queue).put(_Message(bytes(body), message_id, dict(headers or {})))

    async def publish_later(
        self,
        queue: str,
        body: bytes,
        *,
        delay: float,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if self._closed:
            raise PublishError("the bus is closed")
        if delay < 0.001:
            raise ConfigError(f"a delay must be at least 1 ms, got {delay!r} s")
        message = _Message(bytes(body), message_id, dict(headers or {}))
        state = self._queue(queue)

        def arrive() -> None:
            self._timers.discard(timer)
            state.put(message)

        timer = asyncio.get_running_loop().call_later(delay, arrive)
        self._timers.add(timer)

    async def consume(
        self, queue: str, handler: Handler, *, concurrency: int = 1, prefetch: int | None = None
    ) -> None:
        # No prefetch here: a worker takes a message only when its handler is free.
        if concurrency < 1:
            raise ConfigError(f"consumer concurrency must be at least 1, got {concurrency}")
        await self.start()
        state = self._queue(queue)
        for n in range(concurrency):
            task = asyncio.create_task(self._work(queue, state, handler), name=f"bus-{queue}-{n}")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def announce(self, body: bytes) -> None:
        for listener in list(self.broker.listeners):
            try:
                listener(body)
            except Exception:  # one listener's bug is not the announcer's failure
                log.exception("a notice listener failed")

    async def listen(self, listener: Listener) -> None:
        self.broker.listeners.append(listener)

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[Delivery]:
        return list(self._queue(queue).dead[:limit])

    async def purge(self, queue: str) -> None:
        state = self._queue(queue)
        state.ready.clear()
        state.dead.clear()

    async def healthy(self) -> bool:
        return not self._stopping

    async def depths(self, queue: str) -> QueueDepth:
        state = self._queue(queue)
        return QueueDepth(ready=len(state.ready), dead=len(state.dead))

    async def jobs_with_messages(self, queues: list[str], job_ids: list[str]) -> None:
        return None  # its delayed messages are timers: say "cannot tell", as RabbitMQ does

    def _queue(self, logical: str) -> _Queue:
        return self.broker.queue(queue_name(self.namespace, logical))

    async def _work(self, logical: str, state: _Queue, handler: Handler) -> None:
        me = asyncio.current_task()
        assert me is not None
        while not self._stopping:
            message = await state.take()
            if self._stopping:
                state.put(message, front=True)
                return
            message.deliveries += 1
            delivery = Delivery(
                queue=logical,
                body=message.body,
                message_id=message.message_id,
                attempt=message.deliveries,
                headers=visible_headers(message.headers),
            )
            self._busy.add(me)
            try:
                await handler(delivery)
            except PermanentFailure as exc:
                log.warning("%s %s rejected: %s", logical, message.message_id, exc)
                self._bury(logical, state, message, "rejected")
            except asyncio.CancelledError:
                self._give_back(logical, state, message)
                raise
            except Exception:
                # Any other failure is a failed delivery: the port's rule is retry, then
                # dead-letter, so the handler's own error type does not matter here.
                log.warning(
                    "%s %s failed on attempt %d",
                    logical,
                    message.message_id,
                    message.deliveries,
                    exc_info=True,
                )
                self._give_back(logical, state, message)
            finally:
                self._busy.discard(me)

    def _give_back(self, logical: str, state: _Queue, message: _Message) -> None:
        if message.deliveries >= self.delivery_limit:
            self._bury(logical, state, message, "delivery_limit")
        else:
            state.put(message, front=True)

    def _bury(self, logical: str, state: _Queue, message: _Message, reason: str) -> None:
        headers = visible_headers(message.headers) | {DEATH_REASON_HEADER: reason}
        state.dead.append(
            Delivery(
                queue=logical,
                body=message.body,
                message_id=message.message_id,
                # RabbitMQ forgets the count of a rejected message; report what it reports.
                attempt=self.delivery_limit if reason == "delivery_limit" else 1,
                headers=headers,
            )
        )
