"""Job-finished notices: how whoever waits for a job learns at once that it ended.

The stage that settles a job (an image or a video, completed or failed) announces
``finished:<kind>:<id>`` on the bus (``Bus.announce``: the in-process listeners in the
embedded run, the ``<ns>.notices`` fan-out exchange on RabbitMQ, where every API process has a
private queue bound); the image request waiting for its result and the event streams' watchers
listen. A waiter registers before its first read of the document, so a notice cannot slip
between the read and the wait; the notice only says "read the document again", which stays
the truth. Notices are best effort (a broker hiccup, an API process that started listening
late), so waiters still poll, slowly, as the fallback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from common.bus.port import Bus

log = logging.getLogger(__name__)

PREFIX = "finished:"


def finished_notice(kind: str, job_id: object) -> bytes:
    return f"{PREFIX}{kind}:{job_id}".encode()


async def announce_finished(bus: Bus, kind: str, job_id: object) -> None:
    """Tell every waiting request that the job ended (after its final update is stored)."""
    await bus.announce(finished_notice(kind, job_id))


class FinishedWaiters:
    """One per API process: the requests waiting for a job, woken by its notice."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._waiting: dict[bytes, set[asyncio.Event]] = {}
        self._listening: asyncio.Task[None] | None = None
        self._hooks: list[Callable[[str, str], None]] = []

    def on_every(self, hook: Callable[[str, str], None]) -> None:
        """Call ``hook(kind, job_id)`` for every notice heard (the event streams' watchers
        read a job at once instead of at their next poll)."""
        self._hooks.append(hook)

    async def listening(self) -> bool:
        """Subscribe on first use (once per process); False when the bus refused, and then
        waiters rely on polling alone."""
        if self._listening is None:
            self._listening = asyncio.ensure_future(self._bus.listen(self._heard))
        try:
            await asyncio.shield(self._listening)
        except Exception:
            log.warning("job notices unavailable; waiting requests poll", exc_info=True)
            self._listening = None  # try again on the next request
            return False
        return True

    def _heard(self, body: bytes) -> None:
        for event in self._waiting.get(body, ()):
            event.set()
        kind, _, job_id = body.decode(errors="replace").removeprefix(PREFIX).partition(":")
        for hook in self._hooks:
            hook(kind, job_id)

    @contextmanager
    def waiting(self, kind: str, job_id: object) -> Iterator[asyncio.Event]:
        """An event set when the job's notice arrives, registered for the block's length."""
        key = finished_notice(kind, job_id)
        event = asyncio.Event()
        self._waiting.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiting.get(key, set())
            waiters.discard(event)
            if not waiters:
                self._waiting.pop(key, None)
