"""One RabbitMQ consumer: runs a handler on each delivery and settles it afterwards.

The ack decision follows the port: return → ack; :class:`~common.errors.PermanentFailure` →
reject without requeue (dead-letter now); anything else → nack with requeue, which the quorum
queue counts and dead-letters once the count passes ``x-delivery-limit``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping

import aiormq
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel
from pamqp.common import FieldTable

from common.bus.port import DEATH_REASON_HEADER, Delivery, Handler, visible_headers
from common.errors import PermanentFailure

log = logging.getLogger(__name__)

# What settling or cancelling looks like when the channel is already gone.
_CHANNEL_GONE = (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, OSError)


def _last_death_reason(raw: Mapping[str, object]) -> str:
    """Why the message was dead-lettered last. ``x-death`` lists deaths newest first; the
    first death may be an earlier one (a delay queue's TTL expiry, see ``publish_later``)."""
    deaths = raw.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        return str(deaths[0].get("reason", "rejected"))
    return str(raw.get("x-first-death-reason", "rejected"))


def to_delivery(
    logical: str, message: AbstractIncomingMessage, *, dead_limit: int | None = None
) -> Delivery:
    """A port ``Delivery`` from an AMQP message; ``dead_limit`` for dead-letter queue reads."""
    raw = message.headers or {}
    headers = visible_headers(raw)
    if dead_limit is None:
        # A quorum queue omits the count on a first delivery and says 0 on a first basic.get.
        attempt = int(str(raw.get("x-delivery-count", 0))) + 1
    else:
        reason = _last_death_reason(raw)
        headers[DEATH_REASON_HEADER] = reason
        # A rejected message's count is not kept by the broker: the port says report 1.
        attempt = dead_limit if reason == "delivery_limit" else 1
    return Delivery(
        queue=logical,
        body=message.body,
        message_id=message.message_id or "",
        attempt=attempt,
        headers=headers,
    )


class Consumer:
    def __init__(
        self,
        logical: str,
        handler: Handler,
        concurrency: int,
        channel: AbstractRobustChannel,
        queue: AbstractQueue,
        arguments: Mapping[str, int] | None = None,
    ) -> None:
        self._logical = logical
        self._handler = handler
        self._slots = asyncio.Semaphore(concurrency)
        self._channel = channel
        self._queue = queue
        self._arguments: FieldTable = dict(arguments or {})
        self._tasks: set[asyncio.Task[None]] = set()
        self._tag: str | None = None
        self._stopping = False

    async def start(self) -> None:
        self._tag = await self._queue.consume(self._on_message, arguments=self._arguments)

    async def stop(self, grace: float) -> None:
        """Cancel the subscription, let handlers finish for ``grace`` s, close the channel.

        Whatever is still unacked then (handlers cancelled, prefetched messages never started)
        goes back to the queue when the channel closes; RabbitMQ 3.10 counts that return.
        """
        self._stopping = True
        if self._tag is not None:
            try:
                await self._queue.cancel(self._tag)
            except _CHANNEL_GONE:
                log.debug("cancel on a closed channel", exc_info=True)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # aiormq runs this callback in a task it cancels when the channel dies (a broker
        # restart). The handler gets a task of ours instead, so an outage never interrupts
        # work half-done; its ack then fails and the broker redelivers the message.
        task = asyncio.create_task(self._handle(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        async with self._slots:
            if self._stopping:
                return  # left unacked: the channel's close returns it
            delivery = to_delivery(self._logical, message)
            try:
                await self._handler(delivery)
            except PermanentFailure as exc:
                log.warning("%s %s rejected: %s", self._logical, delivery.message_id, exc)
                await self._settle(delivery, message.reject(requeue=False))
            except Exception:
                # Any other failure is a failed delivery (retry, then dead-letter), whatever
                # the handler's error type; the traceback is the operator's clue.
                log.warning(
                    "%s %s failed on attempt %d",
                    self._logical,
                    delivery.message_id,
                    delivery.attempt,
                    exc_info=True,
                )
                await self._settle(delivery, message.nack(requeue=True))
            else:
                await self._settle(delivery, message.ack())

    async def _settle(self, delivery: Delivery, outcome: Awaitable[None]) -> None:
        try:
            await outcome
        except _CHANNEL_GONE:
            # The delivery's channel died after the handler ran: the broker has already
            # returned the message and will redeliver it (handlers are idempotent).
            log.warning(
                "%s %s could not be settled; it will be redelivered",
                self._logical,
                delivery.message_id,
            )
