"""``enhancer login``: the session file (0600 from its creation), its rotation, exit codes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
import pytest
from enhancer_client.cli import config

from tests.client.conftest import Account, Cli
from tests.client.test_sdk_auth import revoke_access
from tests.embedded import Service, free_port


def session(config_home: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads((config_home / "enhancer" / "session.json").read_text())
    return data


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_keeps_a_private_session(cli: Cli, account: Account, config_home: Path,
                                       service: Service) -> None:
    done = cli("login", "--email", account.email, "--password-stdin", "--json",
               stdin=account.password + "\n")
    assert done.returncode == 0, done.stderr
    file = config_home / "enhancer" / "session.json"
    assert json.loads(done.stdout) == {"url": service.url, "email": account.email,
                                       "session_file": str(file)}
    assert mode(file) == 0o600 and mode(file.parent) == 0o700
    saved = session(config_home)
    assert saved["url"] == service.url and saved["email"] == account.email
    me = httpx.get(f"{service.url}/api/auth/me",
                   headers={"Authorization": f"Bearer {saved['access_token']}"})
    assert me.status_code == 200 and me.json()["user"]["email"] == account.email


def test_the_file_is_never_readable_by_others(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Even with a permissive umask, and over an older file with a wider mode.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    old = os.umask(0)
    try:
        folder = tmp_path / "enhancer"
        folder.mkdir(mode=0o777)
        (folder / "session.json").write_text("{}")
        (folder / "session.json").chmod(0o666)
        config.save(config.Saved("http://x", "a@b.c", "access", "refresh"))
    finally:
        os.umask(old)
    assert mode(folder / "session.json") == 0o600
    assert json.loads((folder / "session.json").read_text())["refresh_token"] == "refresh"
    assert [p.name for p in folder.iterdir()] == ["session.json"]  # no temporary left


def test_a_rotated_session_is_saved(cli: Cli, logged_in: Account, config_home: Path,
                                    service: Service) -> None:
    before = session(config_home)
    revoke_access(service.url, logged_in, before["access_token"])
    listed = cli("list", "images", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["images"]["total"] == 0
    after = session(config_home)
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] != before["access_token"]
    assert mode(config_home / "enhancer" / "session.json") == 0o600
    # The next command uses the saved pair as it is: no further refresh.
    assert cli("list", "videos").returncode == 0
    assert session(config_home) == after


def test_exit_codes(cli: Cli, account: Account, config_home: Path, service: Service) -> None:
    wrong = cli("login", "--email", account.email, "--password-stdin", stdin="nope\n")
    assert wrong.returncode == 3
    assert "Credenciales inválidas (HTTP 401)" in wrong.stderr
    assert not (config_home / "enhancer" / "session.json").exists()

    not_logged_in = cli("list")
    assert not_logged_in.returncode == 3 and "enhancer login" in not_logged_in.stderr
    assert cli("image", "--scale", "7", "x.png").returncode == 2
    assert cli("frobnicate").returncode == 2

    unreachable = cli("models", url=f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 4 and "ConnectError" in unreachable.stderr

    assert cli("login", "--email", account.email, "--password-stdin",
               stdin=account.password + "\n").returncode == 0
    assert cli("image", "no-such-file.png").returncode == 2
    missing = cli("rm", "6752a1b2c3d4e5f6a7b8c9d1", "--json")
    assert missing.returncode == 5
    assert json.loads(missing.stdout) == {"error": "Imagen no encontrada", "status": 404}
    assert cli("wait", "6752a1b2c3d4e5f6a7b8c9d1").returncode == 5

    models = cli("models", "--json")
    assert models.returncode == 0
    assert [m["id"] for m in json.loads(models.stdout)][:2] == ["general_x4", "general_x2"]

    ended = session(config_home)
    assert cli("logout").returncode == 0
    assert not (config_home / "enhancer" / "session.json").exists()
    refresh = httpx.post(f"{service.url}/api/auth/refresh",
                         json={"refresh_token": ended["refresh_token"]})
    assert refresh.status_code == 401  # ended on the server too, not just forgotten
