"""The manual's auth examples, run verbatim (curl and Python) against the embedded service.

Only the address (localhost:8888 → the test service) and the manual's placeholders
("tu_access_token", "tu_refresh_token_aqui") are substituted; curl's ``-s`` and the status
line come from a curlrc, so the commands themselves stay exactly as printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.embedded import Service, embedded_service, manual_code_blocks

STATUS_MARK = "\nHTTP_STATUS="


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with embedded_service(tmp_path_factory.mktemp("auth-manual")) as running:
        yield running


@pytest.fixture(scope="module")
def curl_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("curl")
    (home / ".curlrc").write_text(f'silent\nwrite-out = "\\n{STATUS_MARK.strip()}%{{http_code}}"\n')
    return home


def _run_curl(
    service: Service, curl_home: Path, heading: str, **placeholders: str
) -> tuple[int, dict]:
    (block,) = manual_code_blocks("bash", heading)
    script = service.localize(block)
    for placeholder, value in placeholders.items():
        script = script.replace(placeholder, value)
    env = dict(os.environ, CURL_HOME=str(curl_home), HOME=str(curl_home))
    done = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    body, _, status = done.stdout.rpartition(STATUS_MARK.strip())
    return int(status), json.loads(body)


def test_the_manuals_curl_examples(service: Service, curl_home: Path) -> None:
    status, body = _run_curl(service, curl_home, "#### Registrar Usuario")
    assert status == 201
    assert body["message"] == "Usuario registrado exitosamente"
    assert body["user"]["username"] == "miusuario"
    assert body["user"]["email"] == "usuario@ejemplo.com"
    assert body["user"]["is_active"] is True

    status, body = _run_curl(service, curl_home, "#### Iniciar Sesión")
    assert status == 200
    assert body["message"] == "Login exitoso"
    tokens = body["tokens"]
    assert tokens["token_type"] == "bearer"

    status, body = _run_curl(
        service, curl_home, "#### Ver Mi Perfil", tu_access_token=tokens["access_token"]
    )
    assert status == 200
    assert body["user"]["username"] == "miusuario"

    status, body = _run_curl(
        service, curl_home, "#### Refrescar Tokens", tu_refresh_token_aqui=tokens["refresh_token"]
    )
    assert status == 200
    fresh = body["tokens"]
    assert fresh["refresh_token"] != tokens["refresh_token"]

    status, body = _run_curl(
        service,
        curl_home,
        "#### Cerrar Sesión",
        tu_refresh_token_aqui=fresh["refresh_token"],
        tu_access_token=fresh["access_token"],
    )
    assert status == 200
    status, body = _run_curl(
        service, curl_home, "#### Ver Mi Perfil", tu_access_token=fresh["access_token"]
    )
    assert (status, body) == (401, {"error": "Token inválido o expirado"})


def test_the_manuals_python_login_steps(service: Service, tmp_path: Path) -> None:
    """Steps 1–2 of the manual's Python example (login, auth headers); the image steps that
    follow belong to the image endpoints and are exercised by their own tests."""
    (block,) = manual_code_blocks("python", "### Python")
    login_steps = block.split("# 3.", 1)[0]
    check = (
        "\nme = requests.get(f'{API_URL}/api/auth/me', headers=headers)"
        "\nprint(me.status_code, me.json()['user']['email'])\n"
    )
    account = {"username": "miusuario", "email": "usuario@ejemplo.com", "password": "mipassword123"}
    registered = httpx.post(f"{service.url}/api/auth/register", json=account, timeout=30)
    assert registered.status_code in (201, 409)  # the account the example logs in with
    done = subprocess.run(
        [sys.executable, "-c", service.localize(login_steps) + check],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "usuario@ejemplo.com"]
