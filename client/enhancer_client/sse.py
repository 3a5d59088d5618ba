"""A Server-Sent Events parser (the WHATWG event-stream format), fed one line at a time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    event: str
    data: str
    id: str | None


class SseParser:
    """Turns the lines of an event stream (line endings removed) into events."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self.last_id: str | None = None
        self.retry_ms: int | None = None

    def feed(self, line: str) -> Event | None:
        """The event that ``line`` completes (a blank line ends one), else None."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):  # a comment, e.g. a keep-alive
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> Event | None:
        event, data = self._event or "message", "\n".join(self._data)
        had_data = bool(self._data)
        self._event, self._data = "", []
        if not had_data:
            return None
        return Event(event=event, data=data, id=self.last_id)
