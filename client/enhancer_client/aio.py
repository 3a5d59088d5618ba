"""The async client: drives the same plans with ``httpx.AsyncClient``. Token renewal is
serialised by an ``asyncio.Lock``, so concurrent tasks on one client share one refresh."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
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
        self._reader: AsyncIterator[Any] | None = None

    async def read(self, unit: str) -> Any:
        if self._reader is None:
            self._reader = (self.response.aiter_lines() if unit == "lines"
                            else self.response.aiter_bytes(64 * 1024))
        return await anext(self._reader, None)


class AsyncClient(core.Core):
    """The Image Enhancer API for asyncio; the same methods as ``Client``, awaited. With
    ``email``/``password`` it logs in on first use (or ``await client.login(...)``); use it
    as ``async with AsyncClient(...) as client:``."""

    def __init__(self, base_url: str, email: str | None = None, password: str | None = None,
                 *, tokens: Tokens | None = None, token_store: TokenStore | None = None,
                 on_tokens: Callable[[Tokens], None] | None = None,
                 timeout: float | httpx.Timeout = core.DEFAULT_TIMEOUT,
                 poll_interval: float = 1.0, reconnect_for: float = 300.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, email, password, tokens=tokens, token_store=token_store,
                         on_tokens=on_tokens, poll_interval=poll_interval,
                         reconnect_for=reconnect_for)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                       transport=transport)
        self._renewing = asyncio.Lock()

    login = core.asynchronous(core.login)
    logout = core.asynchronous(core.logout)
    me = core.asynchronous(core.me)
    models = core.asynchronous(core.models)
    enhance_image = core.asynchronous(core.enhance_image)
    get_image = core.asynchronous(core.get_image)
    list_images = core.asynchronous(core.list_images)
    submit_video = core.asynchronous(core.submit_video)
    get_video = core.asynchronous(core.get_video)
    list_videos = core.asynchronous(core.list_videos)
    wait = core.asynchronous(core.wait)
    download = core.asynchronous(core.download)
    delete = core.asynchronous(core.delete)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    # The driver: sync.py's, awaited. Keep the two in step.

    async def _run(self, plan: Plan[T]) -> T:
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
                    reply = await self._do(step, opened)
                except (ApiError, ConnectionFailed) as exc:
                    error = exc
        finally:
            plan.close()
            for response in opened:
                await response.aclose()

    async def _do(self, step: Step, opened: list[httpx.Response]) -> Any:
        if isinstance(step, Send):
            return await self._run(exchange(self.session, step, stream=False))
        if isinstance(step, Open):
            response = await self._run(exchange(self.session, step.send, stream=True))
            opened.append(response)
            return _Body(response)
        if isinstance(step, Read):
            try:
                return await step.handle.read(step.unit)
            except httpx.TransportError as exc:
                raise ConnectionFailed(describe(exc)) from exc
        if isinstance(step, Close):
            await (step.handle.response if isinstance(step.handle, _Body) else step.handle).aclose()
        elif isinstance(step, ReadAll):
            try:
                await step.response.aread()
            except httpx.TransportError as exc:
                raise ConnectionFailed(describe(exc)) from exc
            finally:
                await step.response.aclose()
        elif isinstance(step, Transmit):
            return await self._transmit(step)
        elif isinstance(step, Renew):
            async with self._renewing:
                await self._run(self.session.renew(step.seen_generation))
        elif isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
        return None

    async def _transmit(self, step: Transmit) -> httpx.Response:
        send = step.send
        timeout = send.timeout if send.timeout is not None else httpx.USE_CLIENT_DEFAULT
        for attempt in count():
            try:
                with open_files(send.upload) as files:
                    request = self._http.build_request(
                        send.method, send.path, params=send.params, json=send.json,
                        data=send.form, files=files, headers=step.headers, timeout=timeout)
                    return await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                delay = retry_delay(send.method, exc, attempt)
                if delay is None:
                    raise ConnectionFailed(describe(exc)) from exc
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")
