"""Stopping work that runs on a thread: the worker side of a message's deadline.

The runner bounds every handler (``pipeline.runner``: the stage's time per message, kept
within the broker's consumer timeout), but cancelling a coroutine does not stop a thread: the
engine thread would go on upscaling a chunk nobody waits for any more, holding the device and
the next message back until RabbitMQ closes the channel anyway. So long work on a thread takes
a ``StopToken`` and checks it between tiles, batches and frames; the check raises
``WorkCancelled`` once the message's deadline has passed or its handler was cancelled (the
time limit, or a shutdown whose grace period ran out).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")


class WorkCancelled(Exception):
    """The work was stopped: its message's deadline passed or its handler was cancelled."""


class StopToken:
    """Set from the event loop (or expired by the clock), checked by the worker thread."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline  # time.monotonic() value; None: no deadline
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def check(self) -> None:
        """Raise ``WorkCancelled`` if the work should end now; cheap enough to call per tile."""
        if self._stopped.is_set():
            raise WorkCancelled("el trabajo se detuvo: su manejador fue cancelado")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise WorkCancelled("el trabajo superó el tiempo máximo por mensaje")


async def run_stoppable(executor: Executor, work: Callable[[], T], token: StopToken) -> T:
    """``work()`` on ``executor``; if the awaiting task is cancelled, stop it and wait for it.

    Waiting for the thread to notice (one tile or batch) means its temporary files and the
    engine thread are free again before the handler's clean-up runs and the message returns
    to the queue. The thread runs in a copy of the caller's context, so what it logs carries
    the handler's job context (executors do not copy it themselves).
    """
    future = asyncio.get_running_loop().run_in_executor(
        executor, contextvars.copy_context().run, work)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        token.stop()
        await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # retrieved: the cancellation is what propagates
        raise
