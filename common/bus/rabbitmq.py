"""The RabbitMQ adapter (aio-pika): quorum queues, dead-lettering, confirms, manual acks.

Recovery: ``connect_robust`` reconnects after a broker restart or a network cut, and its robust
channels re-declare every exchange, queue and binding declared through them and resume their
consumers. A publish caught by the outage is retried (bounded by ``publish_timeout``); a handler
caught by it cannot ack any more, so its message is redelivered: handlers are idempotent.

Operating limit: RabbitMQ closes a channel whose delivery stays unacked longer than its
consumer timeout (``consumer_timeout``, 30 min by default); every unacked message of the
channel is then redelivered with an attempt spent. The workers keep each message's unacked
time within ``consumer_timeout`` (``BUS_CONSUMER_TIMEOUT_SECONDS``, see ``pipeline.runner``),
and every consumer asks the broker for exactly that figure with the ``x-consumer-timeout``
consumer argument, which RabbitMQ 3.12 (and 3.11.15) honours and older brokers ignore: there
the broker's own ``consumer_timeout`` (rabbitmq.conf) must be at least as long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
)
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from common.bus.amqp_consumer import Consumer, to_delivery
from common.bus.port import Delivery, Handler, Listener, QueueDepth
from common.bus.topology import (
    QueueSpec,
    delay_queue,
    notices_exchange,
    queue_pair,
    topology,
    work_exchange,
)
from common.errors import ConfigError, PublishError, ServiceUnavailable
from common.urls import redact_url

log = logging.getLogger(__name__)

# What a broker restart or a network cut looks like to a publisher. A nack is there too: a
# quorum queue without a leader (during a restart) nacks. A return (unroutable) is not.
_TRANSIENT = (
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
    aiormq.exceptions.AMQPChannelError,
    ConnectionError,
    TimeoutError,
)


# Longest wait for one confirm; a publish retries until ``publish_timeout`` in all.
_CONFIRM_TIMEOUT = 10.0


def _is_nack(exc: BaseException) -> bool:
    return isinstance(exc, aiormq.exceptions.DeliveryError) and not isinstance(
        exc, aiormq.exceptions.PublishError
    )


class RabbitBus:
    """A bus on one robust AMQP connection; see :mod:`common.bus.port` for the semantics."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "enhancer",
        delivery_limit: int = 5,
        prefetch: int = 2,
        publish_timeout: float = 30.0,
        close_timeout: float = 30.0,
        reconnect_interval: float = 1.0,
        connect_retry_seconds: float = 30.0,
        consumer_timeout: float | None = None,
    ) -> None:
        self.delivery_limit = delivery_limit
        self.namespace = namespace
        self._url = url
        self._prefetch = prefetch
        self._publish_timeout = publish_timeout
        self._close_timeout = close_timeout
        self._reconnect_interval = reconnect_interval
        self._connect_retry_seconds = connect_retry_seconds
        # Consumer arguments: the broker's ack timeout for our consumers (3.12+), in ms.
        self._consumer_arguments: dict[str, int] = (
            {} if consumer_timeout is None else {"x-consumer-timeout": int(consumer_timeout * 1000)}
        )
        self._topology = topology(namespace, delivery_limit)  # validates names and limit
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractRobustExchange | None = None
        self._notices: AbstractRobustExchange | None = None
        self._declared: dict[str, tuple[QueueSpec, QueueSpec]] = {}
        self._delays: dict[str, QueueSpec] = {}
        self._consumers: list[Consumer] = []
        self._lock = asyncio.Lock()
        self._closing = False  # no new consumers; publishes still go out
        self._closed = False

    async def start(self) -> None:
        async with self._lock:
            if self._closed:
                raise ServiceUnavailable("the bus is closed")
            if self._connection is not None:
                return
            connection = await self._connect()
            try:
                await self._declare_topology(connection)
            except BaseException:
                await connection.close()
                raise
            self._connection = connection

    async def _connect(self) -> AbstractRobustConnection:
        """The first connection, retried with backoff: at start-up the broker often comes up
        beside us (docker compose), so a refusal is not yet an outage."""
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_delay(self._connect_retry_seconds),
                wait=wait_exponential(multiplier=0.25, max=5.0),
                retry=retry_if_exception_type((aiormq.exceptions.AMQPConnectionError, OSError)),
                before_sleep=before_sleep_log(log, logging.WARNING),
                reraise=True,
            ):
                with attempt:
                    return await aio_pika.connect_robust(
                        self._url,
                        reconnect_interval=self._reconnect_interval,
                        client_properties={"connection_name": f"{self.namespace} bus"},
                    )
        except (aiormq.exceptions.AMQPError, OSError) as exc:
            raise ServiceUnavailable(
                f"RabbitMQ at {redact_url(self._url)} is unreachable after "
                f"{self._connect_retry_seconds:g}s of retries: {exc}"
            ) from None
        raise AssertionError("unreachable: AsyncRetrying either returns or raises")

    async def _declare_topology(self, connection: AbstractRobustConnection) -> None:
        # One confirming channel for publishes and declarations: the robust channel replays
        # the declarations after a reconnect (a broker that lost its data gets them back).
        self._channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        for spec in self._topology.exchanges:
            exchange = await self._channel.declare_exchange(
                spec.name, spec.type, durable=spec.durable
            )
            if spec.name == work_exchange(self.namespace):
                self._exchange = exchange
            elif spec.name == notices_exchange(self.namespace):
                self._notices = exchange
        stage = self._topology.queues
        for work, dead in zip(stage[::2], stage[1::2], strict=True):
            await self._declare(self._channel, work, dead)
            self._declared[work.logical] = (work, dead)

    async def close(self) -> None:
        # Consumers stop first and their in-flight handlers finish (up to the grace period)
        # while the bus still publishes: a handler's last publish and its ack must not meet
        # a closed bus, or every graceful stop would cost its message a delivery.
        self._closing = True
        await asyncio.gather(*(c.stop(self._close_timeout) for c in self._consumers))
        self._consumers.clear()
        self._closed = True
        if self._connection is not None:
            await self._connection.close()

    async def jobs_with_messages(self, queues: list[str], job_ids: list[str]) -> None:
        return None  # a queue cannot be searched without taking its messages

    async def publish(
        self,
        queue: str,
        body: bytes,
        *,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        try:
            work, _ = await self._queue(queue)
        except ServiceUnavailable as exc:
            raise PublishError(str(exc)) from exc
        await self._publish(work, body, message_id, headers)

    async def publish_later(
        self,
        queue: str,
        body: bytes,
        *,
        delay: float,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        try:
            await self._queue(queue)
            waiting = await self._delay_queue(queue, delay)
        except ServiceUnavailable as exc:
            raise PublishError(str(exc)) from exc
        await self._publish(waiting, body, message_id, headers)

    async def _publish(
        self, target: QueueSpec, body: bytes, message_id: str, headers: Mapping[str, str] | None
    ) -> None:
        if self._closed:
            raise PublishError("the bus is closed")
        assert self._exchange is not None
        message = aio_pika.Message(
            body,
            message_id=message_id,
            headers=dict(headers or {}),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            content_type="application/octet-stream",
        )
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_TRANSIENT) | retry_if_exception(_is_nack),
            wait=wait_exponential(multiplier=0.1, max=2.0),
            reraise=True,
        )
        try:
            async with asyncio.timeout(self._publish_timeout):
                async for attempt in retrying:
                    with attempt:
                        if self._closed:
                            raise PublishError("the bus closed during a publish")
                        # A lost confirm does not mean a lost message: the retry may
                        # duplicate it, which at-least-once delivery allows.
                        async with asyncio.timeout(_CONFIRM_TIMEOUT):
                            await self._exchange.publish(
                                message, routing_key=target.routing_key, mandatory=True
                            )
        except aiormq.exceptions.PublishError as exc:
            raise PublishError(f"{target.name} is unroutable: {exc}") from exc
        except (*_TRANSIENT, aiormq.exceptions.DeliveryError) as exc:
            raise PublishError(f"{target.name} did not confirm {message_id}: {exc!r}") from exc

    async def consume(
        self, queue: str, handler: Handler, *, concurrency: int = 1, prefetch: int | None = None
    ) -> None:
        if self._closing:
            raise ServiceUnavailable("the bus is closing")
        if concurrency < 1:
            raise ConfigError(f"consumer concurrency must be at least 1, got {concurrency}")
        work, _ = await self._queue(queue)
        assert self._connection is not None
        # A channel per consumer, so its prefetch and its failure are its own. Fewer unacked
        # messages than handlers would leave handlers idle, hence the max.
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=max(prefetch or self._prefetch, concurrency))
        amqp_queue = await channel.declare_queue(
            work.name, durable=work.durable, arguments=dict(work.arguments)
        )
        consumer = Consumer(
            queue, handler, concurrency, channel, amqp_queue, self._consumer_arguments
        )
        await consumer.start()
        self._consumers.append(consumer)

    async def announce(self, body: bytes) -> None:
        if self._closed or self._notices is None:
            return
        try:
            # Transient and unconfirmed-in-spirit: a lost notice costs a waiter one poll.
            async with asyncio.timeout(_CONFIRM_TIMEOUT):
                # Not mandatory: with no listener bound the notice is simply dropped.
                await self._notices.publish(aio_pika.Message(body), routing_key="",
                                            mandatory=False)
        except (TimeoutError, OSError, *_TRANSIENT, aiormq.exceptions.AMQPError) as exc:
            log.warning("notice not announced: %r", exc)

    async def listen(self, listener: Listener) -> None:
        if self._connection is None:
            raise ServiceUnavailable("the bus is not started")
        # A private queue (server-named, exclusive, gone with the connection) bound to the
        # fan-out: the robust channel declares and binds it again after a reconnect.
        channel = await self._connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(notices_exchange(self.namespace))

        async def heard(message: AbstractIncomingMessage) -> None:
            try:
                listener(message.body)
            except Exception:
                log.exception("a notice listener failed")

        await queue.consume(heard, no_ack=True)

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[Delivery]:
        _, dead = await self._queue(queue)
        assert self._connection is not None
        # Unacked gets, then closing the channel, put every message back in place: a classic
        # queue keeps the order and counts nothing.
        channel = await self._connection.channel()
        try:
            amqp_queue = await channel.get_queue(dead.name, ensure=False)
            found: list[AbstractIncomingMessage] = []
            while len(found) < limit:
                message = await amqp_queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                found.append(message)
            return [to_delivery(queue, m, dead_limit=self.delivery_limit) for m in found]
        finally:
            await channel.close()

    async def purge(self, queue: str) -> None:
        work, dead = await self._queue(queue)
        assert self._channel is not None
        for spec in (work, dead):
            amqp_queue = await self._channel.get_queue(spec.name, ensure=False)
            await amqp_queue.purge()

    async def healthy(self) -> bool:
        if self._closed or self._connection is None or self._connection.is_closed:
            return False
        if not self._connection.connected.is_set():
            return False  # reconnecting
        # A round trip, because a half-open TCP connection looks connected until heartbeats
        # time out.
        try:
            async with asyncio.timeout(2.0):
                channel = await self._connection.channel()
                await channel.close()
        except (*_TRANSIENT, aiormq.exceptions.AMQPError):
            return False
        return True

    async def depths(self, queue: str) -> QueueDepth:
        work, dead = await self._queue(queue)
        assert self._connection is not None
        # Passive declarations on a channel of their own: a missing queue closes the channel.
        channel = await self._connection.channel()
        try:
            counts = []
            for spec in (work, dead):
                declared = await channel.declare_queue(spec.name, passive=True)
                counts.append(declared.declaration_result.message_count or 0)
        finally:
            await channel.close()
        return QueueDepth(ready=counts[0], dead=counts[1])

    async def _delay_queue(self, logical: str, delay: float) -> QueueSpec:
        """The delay queue of ``logical`` for ``delay`` s, declared on first use; the robust
        channel re-declares it after a reconnect like every other queue."""
        spec = delay_queue(self.namespace, logical, delay)
        if spec.name not in self._delays:
            async with self._lock:
                if spec.name not in self._delays:
                    assert self._channel is not None
                    await self._declare_one(self._channel, spec)
                    self._delays[spec.name] = spec
        return self._delays[spec.name]

    async def _queue(self, logical: str) -> tuple[QueueSpec, QueueSpec]:
        """The specs of a logical queue, declaring it on first use (non-stage queues)."""
        await self.start()
        if logical not in self._declared:
            async with self._lock:
                if logical not in self._declared:
                    assert self._channel is not None
                    pair = queue_pair(self.namespace, logical, self.delivery_limit)
                    await self._declare(self._channel, *pair)
                    self._declared[logical] = pair
        return self._declared[logical]

    @classmethod
    async def _declare(
        cls, channel: AbstractRobustChannel, work: QueueSpec, dead: QueueSpec
    ) -> None:
        for spec in (dead, work):
            await cls._declare_one(channel, spec)

    @staticmethod
    async def _declare_one(channel: AbstractRobustChannel, spec: QueueSpec) -> None:
        try:
            amqp_queue = await channel.declare_queue(
                spec.name, durable=spec.durable, arguments=dict(spec.arguments)
            )
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            # Queue arguments are immutable: a changed BUS_DELIVERY_LIMIT meets the
            # queue declared with the old one. Only an operator can resolve that.
            raise ConfigError(
                f"queue {spec.name} exists with other arguments than {dict(spec.arguments)}"
                " (BUS_DELIVERY_LIMIT changed?): drain and delete it, or restore the old"
                f" setting. Broker said: {exc}"
            ) from exc
        await amqp_queue.bind(spec.exchange, spec.routing_key)
