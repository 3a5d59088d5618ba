"""Tokens: login, rotation-aware refresh, and where a session's tokens are kept.

The service rotates refresh tokens: every refresh returns a new one, and presenting an
already-rotated one is taken as theft and ends the whole session. So one session must never
refresh twice with the same token: the drivers renew under a lock and only when no other
request renewed since they sent theirs (``generation``), and a ``TokenStore`` shared by
several processes (the CLI's config file) is re-read under its own lock first, adopting
tokens another process already rotated.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

import httpx

from enhancer_client.errors import AuthError, error_from_response
from enhancer_client.steps import Close, Plan, ReadAll, Renew, Send, Transmit
from enhancer_client.types import Tokens


class TokenStore(Protocol):
    """Persistent tokens (the CLI keeps them in its config file)."""

    def load(self) -> Tokens | None: ...

    def save(self, tokens: Tokens) -> None: ...

    def lock(self) -> AbstractContextManager[Any]: ...


def _tokens(body: dict[str, Any]) -> Tokens:
    tokens = body["tokens"]
    return Tokens(access_token=tokens["access_token"], refresh_token=tokens["refresh_token"])


def login(email: str, password: str) -> Plan[Tokens]:
    response = yield Send("POST", "/api/auth/login", json={"email": email, "password": password},
                          auth=False)
    return _tokens(response.json())


def refresh(refresh_token: str) -> Plan[Tokens]:
    response = yield Send("POST", "/api/auth/refresh", json={"refresh_token": refresh_token},
                          auth=False)
    return _tokens(response.json())


class Session:
    """The tokens one client uses, and what it may do to renew them."""

    def __init__(self, tokens: Tokens | None = None, *, email: str | None = None,
                 password: str | None = None, store: TokenStore | None = None,
                 on_tokens: Callable[[Tokens], None] | None = None) -> None:
        self.tokens = tokens if tokens is not None else (store.load() if store else None)
        self._credentials = (email, password) if email and password else None
        self._store = store
        self._on_tokens = on_tokens
        self.generation = 0  # bumped at each renewal, so a stale 401 does not renew again

    @property
    def renewable(self) -> bool:
        return self._credentials is not None or self.tokens is not None or self._store is not None

    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.access_token}"} if self.tokens else {}

    def adopt(self, tokens: Tokens, *, persist: bool) -> None:
        self.tokens = tokens
        self.generation += 1
        if persist and self._store is not None:
            self._store.save(tokens)
        if self._on_tokens is not None:
            self._on_tokens(tokens)

    def _store_lock(self) -> AbstractContextManager[Any]:
        return self._store.lock() if self._store is not None else contextlib.nullcontext()

    def renew(self, seen_generation: int) -> Plan[None]:
        """New tokens, unless another request renewed since ``seen_generation`` (the caller
        holds the driver's lock). Refresh first; log in again if the refresh token is dead and
        the password is known; otherwise the 401 stands."""
        if self.generation != seen_generation:
            return
        with self._store_lock():
            stored = self._store.load() if self._store is not None else None
            if stored is not None and stored != self.tokens:
                self.adopt(stored, persist=False)  # another process rotated already
                return
            failure: AuthError | None = None
            if self.tokens is not None:
                try:
                    self.adopt((yield from refresh(self.tokens.refresh_token)), persist=True)
                    return
                except AuthError as exc:
                    failure = exc
            if self._credentials is None:
                raise failure or AuthError(401, "Token de autenticación requerido")
            self.adopt((yield from login(*self._credentials)), persist=True)


def exchange(session: Session, send: Send, *, stream: bool) -> Plan[httpx.Response]:
    """How a driver carries out ``Send`` (``stream=False``: body read) and ``Open``: with the
    bearer token, renewed and sent once more on a 401; an error status raises ``ApiError``."""
    if send.auth and session.tokens is None and session.renewable:
        yield Renew(session.generation)
    for attempt in (1, 2):
        seen = session.generation
        headers = {**send.headers, **(session.header() if send.auth else {})}
        response: httpx.Response = yield Transmit(send, headers)
        if response.status_code == 401 and send.auth and attempt == 1 and session.renewable:
            yield Close(response)
            yield Renew(seen)
            continue
        if response.status_code >= 400 or not stream:
            yield ReadAll(response)
            if response.status_code >= 400:
                raise error_from_response(response)
        return response
    raise AssertionError("unreachable")
