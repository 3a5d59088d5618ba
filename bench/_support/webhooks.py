"""A real HTTP server that receives webhooks: records each request, checks its signature, and
answers what the test says (e.g. 500 twice, then 200)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from common.webhooks import signing


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the request arrived
    answered: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signed_by(self, secret: str) -> bool:
        return signing.verify(secret, self.headers.get(signing.TIMESTAMP_HEADER, ""),
                              self.body, self.headers.get(signing.SIGNATURE_HEADER, ""),
                              now=self.at)


class Receiver:
    def __init__(self, answers: list[int] | None = None, default: int = 200,
                 redirect_to: str | None = None) -> None:
        self.answers = list(answers or [])  # answered in turn, then ``default``
        self.default = default
        self.redirect_to = redirect_to
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    code = receiver.answers.pop(0) if receiver.answers else receiver.default
                    receiver.received.append(Received(self.path, dict(self.headers.items()),
                                                      body, time.time(), code))
                self.send_response(code)
                if receiver.redirect_to and 300 <= code < 400:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    def count(self) -> int:
        with self._lock:
            return len(self.received)


@contextmanager
def receiver(answers: list[int] | None = None, default: int = 200,
             redirect_to: str | None = None) -> Iterator[Receiver]:
    running = Receiver(answers, default, redirect_to)
    thread = threading.Thread(target=running.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()
        thread.join(timeout=10)
