"""The blocking client: drives the plans with ``httpx.Client``. Safe to share across threads
(the CLI's parallel uploads do): token renewal is serialised by a lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from itertools import count
from types import TracebackType
from typing import Any, TypeVar

import httpx

from enhancer_client import core
from enhancer_client.auth import TokenStore, exchange
from enhancer_client.errors import ApiError, ConnectionFailed
from enhancer_client.steps import (
    Close,
    Open,
    Plan,
    Read,
    ReadAll,
    Renew,
    Send,
    Sleep,
    Step,
    Transmit,
    describe,
    open_files,
    retry_delay,
)
from enhancer_client.types import Tokens

T = TypeVar("T")


class _Body:
    """An opened response and the iterator that reads it."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._reader: Iterator[Any] | None = None

    def read(self, unit: str) -> Any:
        if self._reader is None:
            self._reader = (self.response.iter_lines() if unit == "lines"
                            else self.response.iter_bytes(64 * 1024))
        return next(self._reader, None)


class Client(core.Core):
    """The Image Enhancer API, blocking. ``Client(url, email, password)`` logs in at once
    (raising ``AuthError`` for wrong credentials); ``tokens=`` or ``token_store=`` resume a
    session instead. When the API answers 401 the tokens are renewed (a rotation-aware
    refresh, else a new login when the password is known) and the request is sent again."""

    def __init__(self, base_url: str, email: str | None = None, password: str | None = None,
                 *, tokens: Tokens | None = None, token_store: TokenStore | None = None,
                 on_tokens: Callable[[Tokens], None] | None = None,
                 timeout: float | httpx.Timeout = core.DEFAULT_TIMEOUT,
                 poll_interval: float = 1.0, reconnect_for: float = 300.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, email, password, tokens=tokens, token_store=token_store,
                         on_tokens=on_tokens, poll_interval=poll_interval,
                         reconnect_for=reconnect_for)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)
        self._renewing = threading.Lock()
        if email and password and self.session.tokens is None:
            try:
                self.login(email, password)
            except BaseException:
                self.close()
                raise

    login = core.blocking(core.login)
    logout = core.blocking(core.logout)
    me = core.blocking(core.me)
    models = core.blocking(core.models)
    enhance_image = core.blocking(core.enhance_image)
    get_image = core.blocking(core.get_image)
    list_images = core.blocking(core.list_images)
    submit_video = core.blocking(core.submit_video)
    get_video = core.blocking(core.get_video)
    list_videos = core.blocking(core.list_videos)
    wait = core.blocking(core.wait)
    download = core.blocking(core.download)
    delete = core.blocking(core.delete)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # The driver. aio.py holds its async twin: keep the two in step.

    def _run(self, plan: Plan[T]) -> T:
        opened: list[httpx.Response] = []
        reply: Any = None
        error: Exception | None = None
        try:
            while True:
                try:
                    step = plan.throw(error) if error is not None else plan.send(reply)
                except StopIteration as done:
                    result: T = done.value
                    return result
                reply, error = None, None
                try:
                    reply = self._do(step, opened)
                except (ApiError, ConnectionFailed) as exc:
                    error = exc
        finally:
            plan.close()
            for response in opened:
                response.close()

    def _do(self, step: Step, opened: list[httpx.Response]) -> Any:
        if isinstance(step, Send):
            return self._run(exchange(self.session, step, stream=False))
        if isinstance(step, Open):
            response = self._run(exchange(self.session, step.send, stream=True))
            opened.append(response)
            return _Body(response)
        if isinstance(step, Read):
            try:
                return step.handle.read(step.unit)
            except httpx.TransportError as exc:
                raise ConnectionFailed(describe(exc)) from exc
        if isinstance(step, Close):
            (step.handle.response if isinstance(step.handle, _Body) else step.handle).close()
        elif isinstance(step, ReadAll):
            try:
                step.response.read()
            except httpx.TransportError as exc:
                raise ConnectionFailed(describe(exc)) from exc
            finally:
                step.response.close()
        elif isinstance(step, Transmit):
            return self._transmit(step)
        elif isinstance(step, Renew):
            with self._renewing:
                self._run(self.session.renew(step.seen_generation))
        elif isinstance(step, Sleep):
            time.sleep(step.seconds)
        return None

    def _transmit(self, step: Transmit) -> httpx.Response:
        send = step.send
        timeout = send.timeout if send.timeout is not None else httpx.USE_CLIENT_DEFAULT
        for attempt in count():
            try:
                with open_files(send.upload) as files:
                    request = self._http.build_request(
                        send.method, send.path, params=send.params, json=send.json,
                        data=send.form, files=files, headers=step.headers, timeout=timeout)
                    return self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                delay = retry_delay(send.method, exc, attempt)
                if delay is None:
                    raise ConnectionFailed(describe(exc)) from exc
                time.sleep(delay)
        raise AssertionError("unreachable")
