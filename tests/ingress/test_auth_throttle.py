"""Brute force on login reaches 429 with Retry-After, per email and per client IP."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from common.settings import Settings
from tests.ingress.conftest import SignedUp, SignUp, make_settings


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        login_max_failures=3, login_max_failures_per_ip=6, login_window_seconds=120
    )


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_repeated_failures_for_one_email_reach_429(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    for _ in range(3):
        assert (await _login(client, user.email, "wrong-password")).status_code == 401
    blocked = await _login(client, user.email, "wrong-password")
    assert blocked.status_code == 429
    assert set(blocked.json()) == {"error"}
    assert 1 <= int(blocked.headers["Retry-After"]) <= 121
    # While blocked even the right password is refused: the guesser cannot confirm a hit.
    right = await _login(client, user.email.upper(), user.password)
    assert right.status_code == 429


async def test_a_successful_login_clears_the_emails_failures(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    for _ in range(2):
        assert (await _login(client, user.email, "wrong-password")).status_code == 401
    assert (await _login(client, user.email, user.password)).status_code == 200
    for _ in range(2):
        assert (await _login(client, user.email, "wrong-password")).status_code == 401
    assert (await _login(client, user.email, user.password)).status_code == 200


async def test_spraying_many_emails_from_one_ip_reaches_429(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    victim = await sign_up()
    for n in range(6):
        assert (await _login(client, f"guess{n}@ejemplo.com", "password1")).status_code == 401
    blocked = await _login(client, victim.email, victim.password)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1


async def test_parallel_guesses_check_at_most_the_limit_of_passwords(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    """30 wrong passwords at once for one email: at most 3 (the limit) are ever checked (401),
    every other attempt is refused before its password is looked at (429). Each attempt
    reserves its place atomically before the check, so no race lets a sixth through."""
    answers = await asyncio.gather(
        *(_login(client, user.email, f"wrong-{n}") for n in range(30))
    )
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {401: 3, 429: 27}, statuses
    assert (await _login(client, user.email, user.password)).status_code == 429


async def test_parallel_right_and_wrong_passwords_never_exceed_the_ip_allowance(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    """Across many emails the per-IP allowance (6) holds under concurrency too."""
    answers = await asyncio.gather(
        *(_login(client, f"spray{n}@ejemplo.com", "password1") for n in range(20))
    )
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {401: 6, 429: 14}, statuses
