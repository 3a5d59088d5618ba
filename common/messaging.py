"""Typed publishing on top of the byte-level bus port."""

from __future__ import annotations

from common.bus.port import JOB_HEADER, Bus
from common.contracts import Message, encode


async def publish(bus: Bus, message: Message) -> None:
    """Publish ``message`` to its queue; its stable key makes duplicates recognisable.
    ``job`` names the job it advances, so the watchdog can ask whether a job still has a
    message waiting (``Bus.jobs_with_messages``)."""
    headers = {"type": message.type, "version": str(message.version)}
    job = getattr(message, "image_id", None) or getattr(message, "video_id", None)
    if job:
        headers[JOB_HEADER] = str(job)
    await bus.publish(message.queue, encode(message), message_id=message.key(),
                      headers=headers)
