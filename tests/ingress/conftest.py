"""HTTP fixtures: the real app on a real database and the in-memory bus, plus signed-up users."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from common.bus import MemoryBus
from common.runtime import Runtime
from common.settings import Settings
from common.store import Store
from ingress.app import create_app

SECRET = "test-secret-" + "k" * 64  # long enough for HS512 in the forgery tests


def make_settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, jwt_secret_key=SECRET, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def settings() -> Settings:
    """Override in a test module to change limits (e.g. a small login throttle)."""
    return make_settings()


@pytest.fixture
async def runtime(store: Store, settings: Settings) -> AsyncIterator[Runtime]:
    bus = MemoryBus(delivery_limit=3)
    await bus.start()
    yield Runtime(settings=settings, store=store, bus=bus, embedded=False)
    await bus.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(runtime, jwt_secret=SECRET))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@dataclass(frozen=True)
class SignedUp:
    username: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


SignUp = Callable[[], Awaitable[SignedUp]]


@pytest.fixture
def sign_up(client: httpx.AsyncClient) -> SignUp:
    """Register a fresh user through the API and log in; returns its credentials and tokens."""

    async def make() -> SignedUp:
        name = f"user_{uuid.uuid4().hex[:10]}"
        email, password = f"{name}@ejemplo.com", "mipassword123"
        registered = await client.post(
            "/api/auth/register", json={"username": name, "email": email, "password": password}
        )
        assert registered.status_code == 201, registered.text
        login = await client.post("/api/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        tokens = login.json()["tokens"]
        return SignedUp(name, email, password, tokens["access_token"], tokens["refresh_token"])

    return make


@pytest.fixture
async def user(sign_up: SignUp) -> SignedUp:
    return await sign_up()


def assert_download_headers(headers: httpx.Headers) -> None:
    """What every download carries: a user's upload served back is never sniffed into, nor
    rendered as, something else."""
    assert headers["content-disposition"].startswith("attachment;")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
