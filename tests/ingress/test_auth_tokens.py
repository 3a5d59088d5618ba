"""Forged, expired and misused tokens are refused with the manual's one 401 body."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from tests.ingress.conftest import SECRET, SignedUp

INVALID = {"error": "Token inválido o expirado"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(user: SignedUp, **changes: Any) -> dict[str, Any]:
    """The real claims of the user's access token, with ``changes`` applied."""
    claims: dict[str, Any] = jwt.decode(user.access_token, options={"verify_signature": False})
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


async def test_the_real_token_works(client: httpx.AsyncClient, user: SignedUp) -> None:
    header = jwt.get_unverified_header(user.access_token)
    assert header["alg"] == "HS256"
    claims = _claims(user)
    assert {"sub", "exp", "iat", "jti", "iss", "aud", "typ"} <= set(claims)
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 30 * 60  # JWT_ACCESS_TOKEN_EXPIRE_MINUTES
    assert (await _me(client, user.access_token)).status_code == 200


async def test_alg_none_is_refused(client: httpx.AsyncClient, user: SignedUp) -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(user)).encode())
    for token in (f"{header}.{payload}.", f"{header}.{payload}"):
        response = await _me(client, token)
        assert (response.status_code, response.json()) == (401, INVALID)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
async def test_other_algorithms_with_the_right_key_are_refused(
    client: httpx.AsyncClient, user: SignedUp, algorithm: str
) -> None:
    token = jwt.encode(_claims(user), SECRET, algorithm=algorithm)
    response = await _me(client, token)
    assert (response.status_code, response.json()) == (401, INVALID)


async def test_token_signed_with_another_key(client: httpx.AsyncClient, user: SignedUp) -> None:
    token = jwt.encode(_claims(user), "another-key-" + "x" * 40, algorithm="HS256")
    response = await _me(client, token)
    assert (response.status_code, response.json()) == (401, INVALID)


async def test_expired_token(client: httpx.AsyncClient, user: SignedUp) -> None:
    past = datetime.now(UTC) - timedelta(minutes=31)
    token = jwt.encode(
        _claims(user, iat=past, exp=past + timedelta(minutes=30)), SECRET, algorithm="HS256"
    )
    response = await _me(client, token)
    assert (response.status_code, response.json()) == (401, INVALID)


async def test_tampered_payload(client: httpx.AsyncClient, user: SignedUp) -> None:
    header, _, signature = user.access_token.split(".")
    forged = _b64(json.dumps(_claims(user, sub="0" * 24)).encode())
    response = await _me(client, f"{header}.{forged}.{signature}")
    assert (response.status_code, response.json()) == (401, INVALID)


async def test_refresh_token_as_bearer(client: httpx.AsyncClient, user: SignedUp) -> None:
    response = await _me(client, user.refresh_token)
    assert (response.status_code, response.json()) == (401, INVALID)


@pytest.mark.parametrize(
    "changes",
    [
        {"typ": "refresh"},
        {"typ": None},
        {"aud": "someone-else"},
        {"iss": "someone-else"},
        {"jti": None},
        {"exp": None},
        {"sub": "not-an-object-id"},
    ],
    ids=["typ-refresh", "no-typ", "aud", "iss", "no-jti", "no-exp", "bad-sub"],
)
async def test_correctly_signed_tokens_with_wrong_claims(
    client: httpx.AsyncClient, user: SignedUp, changes: dict[str, Any]
) -> None:
    token = jwt.encode(_claims(user, **changes), SECRET, algorithm="HS256")
    response = await _me(client, token)
    assert (response.status_code, response.json()) == (401, INVALID)


async def test_access_token_refused_after_logout_until_expiry(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    out = await client.post(
        "/api/auth/logout", headers=user.headers, json={"refresh_token": user.refresh_token}
    )
    assert out.status_code == 200
    response = await _me(client, user.access_token)
    assert (response.status_code, response.json()) == (401, INVALID)
    # A second logout with the dead token is itself unauthenticated.
    again = await client.post(
        "/api/auth/logout", headers=user.headers, json={"refresh_token": user.refresh_token}
    )
    assert (again.status_code, again.json()) == (401, INVALID)
