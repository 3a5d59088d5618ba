"""Renewing tokens against the real service: refresh on 401, rotation, one refresh for many
concurrent requests, and a new login when the session is gone.

Access tokens are made invalid honestly: revoked by the service itself (a logout presenting
them), or signed with a key the service does not have.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pytest
from enhancer_client import AsyncClient, AuthError, Client, Tokens

from tests.client.conftest import Account
from tests.embedded import Service

INVALID_TOKEN = "Token inválido o expirado"


def login(url: str, account: Account) -> Tokens:
    answer = httpx.post(f"{url}/api/auth/login", timeout=30,
                        json={"email": account.email, "password": account.password})
    assert answer.status_code == 200, answer.text
    tokens = answer.json()["tokens"]
    return Tokens(tokens["access_token"], tokens["refresh_token"])


def revoke_access(url: str, account: Account, access_token: str) -> None:
    """Make the service refuse ``access_token``: a logout presents it (with the refresh token
    of a throwaway second session, which ends too) and the service revokes it."""
    other = login(url, account)
    answer = httpx.post(f"{url}/api/auth/logout", timeout=30,
                        headers={"Authorization": f"Bearer {access_token}"},
                        json={"refresh_token": other.refresh_token})
    assert answer.status_code == 200, answer.text
    me = httpx.get(f"{url}/api/auth/me", headers={"Authorization": f"Bearer {access_token}"})
    assert (me.status_code, me.json()) == (401, {"error": INVALID_TOKEN})


class Recorder:
    def __init__(self) -> None:
        self.pairs: list[Tokens] = []
        self._lock = threading.Lock()

    def __call__(self, tokens: Tokens) -> None:
        with self._lock:
            self.pairs.append(tokens)


def test_a_revoked_token_is_refreshed_and_the_rotation_followed(
        service: Service, account: Account) -> None:
    first = login(service.url, account)
    renewed = Recorder()
    with Client(service.url, tokens=first, on_tokens=renewed) as api:
        revoke_access(service.url, account, first.access_token)
        assert api.me().email == account.email
        assert len(renewed.pairs) == 1 and api.tokens == renewed.pairs[0]
        assert api.tokens.refresh_token != first.refresh_token
        assert api.tokens.access_token != first.access_token
        # The first refresh token was rotated: presenting it again is refused, and the
        # service, taking it for stolen, ends the session the client now holds.
        reused = httpx.post(f"{service.url}/api/auth/refresh",
                            json={"refresh_token": first.refresh_token})
        assert (reused.status_code, reused.json()) == (401, {"error": INVALID_TOKEN})
        # Without a password nothing can renew it: the 401 reaches the caller.
        with pytest.raises(AuthError) as ended:
            api.list_images()
        assert (ended.value.status, ended.value.message) == (401, INVALID_TOKEN)


def test_a_token_from_an_unknown_key_is_replaced(service: Service, account: Account) -> None:
    real = login(service.url, account)
    now = int(time.time())
    forged = jwt.encode({"sub": "someone", "typ": "access", "jti": uuid.uuid4().hex,
                         "iat": now, "exp": now + 600}, secrets.token_hex(32), "HS256")
    with Client(service.url, tokens=Tokens(forged, real.refresh_token)) as api:
        assert api.list_images().total == 0
        assert api.tokens is not None and api.tokens.access_token != forged


def test_concurrent_401s_share_one_refresh(service: Service, account: Account) -> None:
    # Two refreshes with one token would look like theft and end the session: every
    # thread must wait for the one renewal and retry with its result.
    tokens = login(service.url, account)
    renewed = Recorder()
    with Client(service.url, tokens=tokens, on_tokens=renewed) as api:
        revoke_access(service.url, account, tokens.access_token)
        start = threading.Barrier(8)

        def call(_: int) -> int:
            start.wait()
            return api.list_images().total

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(call, range(8))) == [0] * 8
        assert len(renewed.pairs) == 1
        assert api.me().email == account.email


def test_async_concurrent_401s_share_one_refresh(service: Service, account: Account) -> None:
    tokens = login(service.url, account)
    revoke_access(service.url, account, tokens.access_token)
    renewed = Recorder()

    async def scenario() -> list[int]:
        async with AsyncClient(service.url, tokens=tokens, on_tokens=renewed) as api:
            pages = await asyncio.gather(*(api.list_videos() for _ in range(8)))
            return [page.total for page in pages]

    assert asyncio.run(scenario()) == [0] * 8
    assert len(renewed.pairs) == 1


def test_an_ended_session_logs_in_again_with_the_password(
        service: Service, account: Account) -> None:
    with Client(service.url, account.email, account.password) as api:
        ended = api.tokens
        assert ended is not None
        answer = httpx.post(f"{service.url}/api/auth/logout",
                            headers={"Authorization": f"Bearer {ended.access_token}"},
                            json={"refresh_token": ended.refresh_token})
        assert answer.status_code == 200, answer.text
        assert api.me().email == account.email  # 401, dead refresh token, new login
        assert api.tokens is not None and api.tokens.refresh_token != ended.refresh_token
