"""Registration rules: unique usernames and case-insensitive emails, validation as 400."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from common.store import Store


def _account(**changes: Any) -> dict[str, Any]:
    account = {"username": "miusuario", "email": "usuario@ejemplo.com", "password": "mipassword123"}
    account.update(changes)
    return {k: v for k, v in account.items() if v is not None}


async def _register(client: httpx.AsyncClient, **changes: Any) -> httpx.Response:
    return await client.post("/api/auth/register", json=_account(**changes))


async def test_duplicate_username_is_409(client: httpx.AsyncClient) -> None:
    assert (await _register(client)).status_code == 201
    response = await _register(client, email="otro@ejemplo.com")
    assert response.status_code == 409
    assert response.json() == {"error": "El nombre de usuario ya está registrado"}


async def test_duplicate_email_differing_only_in_case_is_409(client: httpx.AsyncClient) -> None:
    assert (await _register(client)).status_code == 201
    response = await _register(client, username="otro", email="Usuario@Ejemplo.COM")
    assert response.status_code == 409
    assert response.json() == {"error": "El email ya está registrado"}


async def test_login_ignores_the_email_case(client: httpx.AsyncClient) -> None:
    assert (await _register(client, email="Mixed.Case@Ejemplo.com")).status_code == 201
    login = await client.post(
        "/api/auth/login", json={"email": "mixed.case@ejemplo.com", "password": "mipassword123"}
    )
    assert login.status_code == 200


async def test_concurrent_double_registration_creates_one_user(
    client: httpx.AsyncClient, store: Store
) -> None:
    responses = await asyncio.gather(*(_register(client) for _ in range(4)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409, 409, 409]
    assert await store.users.count_documents({"username": "miusuario"}) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": None}, "username"),
        ({"username": "ab"}, "username"),
        ({"username": "has space"}, "username"),
        ({"email": None}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"password": None}, "password"),
        ({"password": "short"}, "password"),
        ({"password": 12345678}, "password"),
    ],
)
async def test_invalid_input_is_400_naming_the_field(
    client: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    response = await _register(client, **changes)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"}
    assert f"'{field}'" in body["error"]


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


async def test_login_missing_field_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json={"email": "usuario@ejemplo.com"})
    assert response.status_code == 400
    assert "'password'" in response.json()["error"]
