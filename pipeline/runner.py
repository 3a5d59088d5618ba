"""Runs stage handlers on a bus: decoding, dispatch by type, time limits, logging, heartbeats.

A stage is a queue plus a table ``{message class: handler}`` (each stage package defines its
``STAGE`` in ``stage.py``). The runner parses a delivery into its contract model and calls the
handler registered for that class with ``(context, message)``: the context is built once per
worker (the runtime itself, or a stage's own per-process state such as the upscale engine), and
the message arrives typed, so handlers need no casts. Handlers store their effects before
returning (the ack follows) and are idempotent, because at-least-once delivery means they may
see a message twice; the rare handler that cares which delivery it is reads
``current_delivery()``. Each message runs under a deadline that keeps it within the broker's
consumer timeout (``consumer_limits``); work a handler runs on a thread stops with it
(``stop_token()``). Retries and dead-lettering are the bus's job; this layer only decides
what is permanent.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from common.bus.port import Delivery
from common.contracts import Message, decode
from common.errors import PermanentFailure
from common.heartbeat import Heartbeat, WorkerInfo
from common.logs import log_context
from common.metrics import STAGE_MESSAGES, STAGE_SECONDS
from common.runtime import Runtime
from common.settings import Settings
from pipeline.cancellation import StopToken

log = logging.getLogger(__name__)

# (the stage's context, the message as its contract class); see ``Stage.handlers``.
MessageHandler = Callable[[Any, Any], Awaitable[None]]
# Called with (runtime, message, reason) when a message is about to be dead-lettered, so the
# stage can fail the job it belongs to (nobody else will ever see that message again).
# Must be idempotent: it may run twice for one message (see ``StageWorker.handle``).
GiveUpHook = Callable[[Runtime, Message, str], Awaitable[None]]

_DELIVERY: ContextVar[Delivery] = ContextVar("delivery")
_DEADLINE: ContextVar[float] = ContextVar("deadline")


def current_delivery() -> Delivery:
    """The delivery the running handler was called for (its attempt number, headers)."""
    return _DELIVERY.get()


def job_fields(message: Message) -> dict[str, Any]:
    """The log context of a message: its job's id and kind, and its chunk when it has one."""
    kind = getattr(message, "kind", None)
    for field in ("image_id", "video_id", "job_id"):
        if (job_id := getattr(message, field, None)) is not None:
            kind = kind or field.removesuffix("_id")
            return {"job_id": job_id, "kind": kind, "chunk": getattr(message, "chunk_index", None)}
    return {}


def seconds_left() -> float | None:
    """Time the running handler has before the runner cuts it (None outside a handler)."""
    deadline = _DEADLINE.get(None)
    return None if deadline is None else deadline - time.monotonic()


def stop_token() -> StopToken:
    """A token for work the handler runs on a thread: it expires with the message's deadline
    (see :mod:`pipeline.cancellation`)."""
    return StopToken(_DEADLINE.get(None))


def the_runtime(runtime: Runtime) -> Runtime:
    """The default stage context: handlers receive the runtime itself."""
    return runtime


class GaveUp(Exception):
    """The runner declined a delivery kept back for recording a give-up (see ``handle``)."""


# RabbitMQ closes a channel whose message stays unacked for 30 minutes (consumer_timeout);
# bounding each message well below that turns a hang into an ordinary retry.
DEFAULT_MESSAGE_TIMEOUT = 20 * 60.0
# Share of the broker's consumer timeout a message may spend unacked at most (waiting behind
# the messages prefetched before it, then running): the rest covers the download before the
# handler's clock starts, stopping the engine thread and the ack's round trip.
UNACKED_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class Chore:
    """Periodic housekeeping: ``run`` at start, then every ``every(settings)`` seconds."""

    run: Callable[[Runtime], Awaitable[None]]
    every: Callable[[Settings], float]


def longest_message_seconds(settings: Settings) -> float:
    """The most time any stage lets one message run (see ``consumer_limits``): a running
    job that moved in no longer than this has no message in a handler."""
    return min(DEFAULT_MESSAGE_TIMEOUT, settings.bus_consumer_timeout_seconds * UNACKED_SHARE)


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage: its queue (``name``), what it handles and how it runs.

    ``handlers`` maps each contract class the stage consumes to ``handler(context, message)``;
    ``context`` builds, once per worker, what every handler gets first.
    """

    name: str
    handlers: Mapping[type[Message], MessageHandler]
    worker_info: Callable[[Runtime], WorkerInfo]
    context: Callable[[Runtime], object] = the_runtime
    concurrency: int = 1
    # The most time one message may take; the broker's consumer timeout may lower it.
    message_timeout: float = DEFAULT_MESSAGE_TIMEOUT
    on_give_up: GiveUpHook | None = None
    # Extra fields for the worker's heartbeat, from its context (the upscale stage: models).
    report: Callable[[Any], Awaitable[dict[str, Any]]] | None = None
    # Unacked messages a worker holds; None: BUS_PREFETCH. Stages with long messages hold 1.
    prefetch: int | None = None
    # Housekeeping the worker runs besides its messages, each at its own interval (the
    # decode stage: the sweep and the watchdog); failures are logged and retried next time.
    chores: tuple[Chore, ...] = ()
    # Further queues the same worker consumes beside ``name``, each with its own consumer and
    # the same limits (the upscale stage's image lane: images never queue behind chunks).
    lanes: tuple[str, ...] = ()

    @property
    def queues(self) -> tuple[str, ...]:
        return (self.name, *self.lanes)

    def __post_init__(self) -> None:
        # A handler for a message published to another queue could never run: say so now.
        for kind in self.handlers:
            if not (isinstance(kind, type) and issubclass(kind, Message)):
                raise TypeError(f"stage {self.name!r}: {kind!r} is not a message class")
            if kind.queue not in self.queues:
                raise ValueError(f"stage {self.name!r} cannot receive {kind.__name__}: it is "
                                 f"published to the {kind.queue!r} queue")


@dataclass(frozen=True, slots=True)
class Limits:
    """How a stage consumes: unacked messages per worker and the time each may run."""

    prefetch: int
    message_seconds: float


def consumer_limits(stage: Stage, settings: Settings) -> Limits:
    """A message prefetched behind others waits unacked while they run, outside any handler's
    clock; RabbitMQ counts that wait too. So the time per message shrinks with the messages
    one handler slot holds: ``held × message_seconds`` stays within ``UNACKED_SHARE`` of
    ``BUS_CONSUMER_TIMEOUT_SECONDS``, whatever the prefetch."""
    prefetch = max(stage.prefetch or settings.bus_prefetch, stage.concurrency)
    held = math.ceil(prefetch / stage.concurrency)
    share = settings.bus_consumer_timeout_seconds * UNACKED_SHARE / held
    return Limits(prefetch=prefetch, message_seconds=min(stage.message_timeout, share))


class StageWorker:
    """One stage consuming its queue inside this process."""

    def __init__(self, runtime: Runtime, stage: Stage) -> None:
        self.runtime = runtime
        self.stage = stage
        self.context = stage.context(runtime)
        report = stage.report
        self.heartbeat = Heartbeat(
            runtime.store, stage.worker_info(runtime),
            None if report is None else lambda: report(self.context))
        self.limits = consumer_limits(stage, runtime.settings)
        self._chores: list[asyncio.Task[None]] = []

    def _last_handler_attempt(self) -> int:
        """Deliveries the handler may use. With a give-up hook and a limit of 2 or more the
        bus's last delivery is kept back: it only arrives when a worker died holding the
        message on the one before (SIGKILL, OOM, lost host), and then the runner records the
        give-up instead of letting the broker dead-letter it with the job left running."""
        limit = self.runtime.bus.delivery_limit
        return limit - 1 if self.stage.on_give_up is not None and limit >= 2 else limit

    async def handle(self, delivery: Delivery) -> None:
        message = decode(delivery.body)
        # Every line logged while handling it says which job, stage and chunk it is about.
        with log_context(**job_fields(message), stage=self.stage.name):
            await self._handle(delivery, message)

    async def _handle(self, delivery: Delivery, message: Message) -> None:
        handler = self.stage.handlers.get(type(message))
        if handler is None:
            raise PermanentFailure(f"stage {self.stage.name!r} has no handler for {message.type}")
        last = self._last_handler_attempt()
        if delivery.attempt > last:
            reason = (
                f"sin terminar tras {delivery.attempt - 1} entregas (el proceso que lo "
                "atendía se detuvo o falló); mensaje descartado"
            )
            await self._give_up(message, reason)
            # Not a PermanentFailure: the bus dead-letters it as "delivery_limit", with its count.
            raise GaveUp(reason)
        started = time.perf_counter()
        labels = (self.stage.name, message.type)
        seconds = self.limits.message_seconds
        log.info("%s %s started (attempt %d)", self.stage.name, delivery.message_id,
                 delivery.attempt)
        # Failures propagate unlogged here: both bus adapters log every failed or rejected
        # delivery (with its traceback) when they decide to retry or dead-letter it.
        # The handler's task copies the context at creation, so both are visible inside it.
        token = _DELIVERY.set(delivery)
        deadline = _DEADLINE.set(time.monotonic() + seconds)
        try:
            try:
                await asyncio.wait_for(handler(self.context, message), seconds)
            except TimeoutError as exc:
                raise TimeoutError(
                    f"superó el tiempo máximo por mensaje ({seconds:g} s)") from exc
        except PermanentFailure as exc:
            STAGE_MESSAGES.labels(*labels, "rejected").inc()
            await self._give_up(message, str(exc))
            raise
        except Exception as exc:
            STAGE_MESSAGES.labels(*labels, "retry").inc()
            if delivery.attempt >= last:
                reason = str(exc) or type(exc).__name__
                # Hooks are idempotent: the kept-back delivery that follows calls it again.
                await self._give_up(
                    message, f"{reason} (falló {delivery.attempt} veces; mensaje descartado)"
                )
            raise
        finally:
            _DEADLINE.reset(deadline)
            _DELIVERY.reset(token)
        STAGE_MESSAGES.labels(*labels, "ok").inc()
        STAGE_SECONDS.labels(*labels).observe(time.perf_counter() - started)
        log.info(
            "%s %s done in %.0f ms",
            self.stage.name,
            delivery.message_id,
            (time.perf_counter() - started) * 1000,
        )

    async def _give_up(self, message: Message, reason: str) -> None:
        if self.stage.on_give_up is None:
            return
        try:
            await self.stage.on_give_up(self.runtime, message, reason)
        except Exception:  # the message is dead-lettered either way; say why the job isn't
            log.exception("%s: on_give_up failed for %s", self.stage.name, message.key())

    async def _chore_loop(self, chore: Chore) -> None:
        every = chore.every(self.runtime.settings)
        while True:
            try:
                await chore.run(self.runtime)
            except Exception:
                log.exception("%s: periodic chore failed; next try in %.0f s",
                              self.stage.name, every)
            await asyncio.sleep(every)

    async def start(self) -> None:
        await self.heartbeat.start()
        self._chores = [asyncio.ensure_future(self._chore_loop(chore))
                        for chore in self.stage.chores]
        # Lanes first: a worker that starts with both kinds of work waiting takes the lane's.
        for queue in reversed(self.stage.queues):
            await self.runtime.bus.consume(
                queue, self.handle, concurrency=self.stage.concurrency,
                prefetch=self.limits.prefetch,
            )
        log.info("stage %s consuming %s (concurrency %d, prefetch %d, %.0f s per message)",
                 self.stage.name, ", ".join(self.stage.queues), self.stage.concurrency,
                 self.limits.prefetch, self.limits.message_seconds)

    async def stop(self) -> None:
        for chore in self._chores:
            chore.cancel()
        await asyncio.gather(*self._chores, return_exceptions=True)
        await self.heartbeat.stop()


async def start_stages(runtime: Runtime, stages: list[Stage]) -> list[StageWorker]:
    workers = [StageWorker(runtime, stage) for stage in stages]
    for worker in workers:
        await worker.start()
    return workers


async def stop_stages(workers: list[StageWorker]) -> None:
    for worker in workers:
        await worker.stop()
