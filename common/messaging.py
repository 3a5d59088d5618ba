"""Typed publishing on top of the byte-level bus port."""

from __future__ import annotations

from common.bus.port import Bus
from common.contracts import Message, encode


async def publish(bus: Bus, message: Message) -> None:
    """Publish ``message`` to its queue; its stable key makes duplicates recognisable."""
    await bus.publish(
        message.queue,
        encode(message),
        message_id=message.key(),
        headers={"type": message.type, "version": str(message.version)},
    )
