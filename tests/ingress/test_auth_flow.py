"""The manual's auth flow over HTTP on a real database: register, login, me, refresh, logout."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from common.process import quiet_driver_payloads
from common.store import Store
from tests.ingress.conftest import SignedUp, SignUp

INVALID = {"error": "Token inválido o expirado"}


async def test_register_answers_the_manuals_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register",
        json={"username": "miusuario", "email": "usuario@ejemplo.com", "password": "mipassword123"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "Usuario registrado exitosamente"
    assert set(body["user"]) == {"id", "username", "email", "is_active", "created_at"}
    assert re.fullmatch(r"[0-9a-f]{24}", body["user"]["id"])
    assert body["user"]["username"] == "miusuario"
    assert body["user"]["email"] == "usuario@ejemplo.com"
    assert body["user"]["is_active"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", body["user"]["created_at"])


async def test_login_me_refresh_logout(client: httpx.AsyncClient, user: SignedUp) -> None:
    login = await client.post(
        "/api/auth/login", json={"email": user.email.upper(), "password": user.password}
    )
    assert login.status_code == 200
    assert login.json()["message"] == "Login exitoso"
    tokens = login.json()["tokens"]
    assert tokens["token_type"] == "bearer"
    assert tokens["access_token"].count(".") == 2
    assert "." not in tokens["refresh_token"] and len(tokens["refresh_token"]) >= 43

    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["user"]["username"] == user.username
    assert me.json()["user"]["email"] == user.email

    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    pair = refreshed.json()["tokens"]
    assert pair["refresh_token"] != tokens["refresh_token"]
    assert pair["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200

    logout = await client.post(
        "/api/auth/logout", headers=headers, json={"refresh_token": pair["refresh_token"]}
    )
    assert logout.status_code == 200
    assert logout.json() == {"message": "Sesión cerrada exitosamente"}
    # Both halves of the pair are dead after logout.
    after = await client.get("/api/auth/me", headers=headers)
    assert (after.status_code, after.json()) == (401, INVALID)
    again = await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert (again.status_code, again.json()) == (401, INVALID)
    # Another session of the same user is untouched.
    assert (await client.get("/api/auth/me", headers=user.headers)).status_code == 200


async def test_rotated_refresh_token_reused_revokes_the_family(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    first = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    successor = first.json()["tokens"]
    # The stolen copy of the old token comes back: theft.
    reuse = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert (reuse.status_code, reuse.json()) == (401, INVALID)
    # The legitimate successor is revoked too, and so are the session's access tokens.
    late = await client.post(
        "/api/auth/refresh", json={"refresh_token": successor["refresh_token"]}
    )
    assert (late.status_code, late.json()) == (401, INVALID)
    for token in (successor["access_token"], user.access_token):
        me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert (me.status_code, me.json()) == (401, INVALID)


async def test_logout_with_someone_elses_refresh_token_is_refused(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    alice, bob = await sign_up(), await sign_up()
    response = await client.post(
        "/api/auth/logout", headers=bob.headers, json={"refresh_token": alice.refresh_token}
    )
    assert (response.status_code, response.json()) == (401, INVALID)
    # Alice's session survives Bob's attempt, and Bob's own access token too: a logout that
    # is refused changes nothing.
    refreshed = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert refreshed.status_code == 200
    assert (await client.get("/api/auth/me", headers=bob.headers)).status_code == 200


async def test_logout_with_a_bogus_refresh_token_revokes_nothing(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    response = await client.post(
        "/api/auth/logout", headers=user.headers, json={"refresh_token": "bogus-" + "x" * 40}
    )
    assert (response.status_code, response.json()) == (401, INVALID)
    assert (await client.get("/api/auth/me", headers=user.headers)).status_code == 200
    refreshed = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refreshed.status_code == 200


async def test_unknown_and_garbage_refresh_tokens(client: httpx.AsyncClient) -> None:
    for token in ("a1b2c3d4e5f6g7h8i9j0", "x" * 64):
        response = await client.post("/api/auth/refresh", json={"refresh_token": token})
        assert (response.status_code, response.json()) == (401, INVALID)


async def test_inactive_user_can_neither_log_in_nor_use_tokens(
    client: httpx.AsyncClient, store: Store, user: SignedUp
) -> None:
    await store.users.update_one({"username": user.username}, {"$set": {"is_active": False}})
    me = await client.get("/api/auth/me", headers=user.headers)
    assert (me.status_code, me.json()) == (401, INVALID)
    refreshed = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert (refreshed.status_code, refreshed.json()) == (401, INVALID)
    login = await client.post(
        "/api/auth/login", json={"email": user.email, "password": user.password}
    )
    assert login.status_code == 401
    assert "tokens" not in login.json()


async def test_wrong_credentials_do_not_reveal_whether_the_email_exists(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    wrong_password = await client.post(
        "/api/auth/login", json={"email": user.email, "password": "not-the-password"}
    )
    unknown_email = await client.post(
        "/api/auth/login", json={"email": "nadie@ejemplo.com", "password": user.password}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json() == {"error": "Credenciales inválidas"}


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, {"error": "Token de autenticación requerido"}),
        ({"Authorization": "Bearer"}, INVALID),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, INVALID),
        ({"Authorization": "Bearer not.a.jwt"}, INVALID),
    ],
)
async def test_missing_or_malformed_authorization(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, str]
) -> None:
    response = await client.get("/api/auth/me", headers=headers)
    assert (response.status_code, response.json()) == (401, body)


async def test_no_body_or_log_line_carries_a_password_or_token_hash(
    client: httpx.AsyncClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    quiet_driver_payloads()  # as every entry point does, even at LOG_LEVEL=DEBUG
    caplog.set_level(logging.DEBUG)
    password = "S3cret-pass-phrase-only-here"
    bodies: list[str] = []
    account = {"username": "secretive", "email": "secretive@ejemplo.com", "password": password}
    bodies.append((await client.post("/api/auth/register", json=account)).text)
    bodies.append((await client.post("/api/auth/register", json=account)).text)  # 409
    login = await client.post(
        "/api/auth/login", json={"email": account["email"], "password": password}
    )
    bodies.append(login.text)
    bad = {"email": account["email"], "password": password + "x"}
    bodies.append((await client.post("/api/auth/login", json=bad)).text)
    tokens = login.json()["tokens"]
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    bodies.append((await client.get("/api/auth/me", headers=headers)).text)
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    bodies.append(refreshed.text)
    bodies.append(
        (
            await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        ).text
    )
    user_doc = await store.users.find_one({"username": "secretive"})
    assert user_doc is not None
    hashes = [row["token_hash"] async for row in store.refresh_tokens.find({})]
    assert len(hashes) == 2
    secrets = [password, user_doc["password_hash"], *hashes]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records, "the flow logs something (registration, theft warning)"
    for secret in secrets:
        assert secret not in logged
        assert all(secret not in body for body in bodies)
    assert user_doc["password_hash"].startswith("$argon2id$")


async def test_an_expired_refresh_token_is_refused(
    client: httpx.AsyncClient, store: Store, user: SignedUp
) -> None:
    # The TTL monitor removes expired rows about once a minute; until then the code checks.
    await store.refresh_tokens.update_many(
        {}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    response = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert (response.status_code, response.json()) == (401, INVALID)
