"""Browser fixtures: Debian's Chromium driven by Playwright against the real embedded service.

Every page a test opens is watched: a Content-Security-Policy violation, an uncaught
exception, or a console error or warning fails the test, except the "Failed to load
resource" lines for answers the test itself provoked (``watch.allow(401, "/api/auth/login")``).
Screenshots go to ``WEB_SCREENSHOTS_DIR`` (default ``build/web-screenshots``); the run prints
where.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.embedded import ROOT, Service, embedded_service
from tests.image_models import OFFLINE_WEIGHTS, image_models
from tests.services import unavailable

__all__ = ["image_models"]  # the session fixture, imported so pytest finds it here

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}
SCREENSHOTS = Path(os.environ.get("WEB_SCREENSHOTS_DIR", ROOT / "build" / "web-screenshots"))
PASSWORD = "mipassword123"
_FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")
_CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


# Per module: Playwright's sync API runs an event loop of its own in this thread while it is
# open, which must not overlap the asyncio tests of other modules.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        unavailable(f"Chromium at {CHROMIUM} (scripts/ensure-test-tools.sh installs it)")
    with sync_playwright() as playwright:
        try:
            started = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS,
                                                 timeout=60_000)
        except Error as exc:
            unavailable(f"Chromium (it did not start: {exc.message.splitlines()[0]})")
        yield started
        started.close()


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory, image_models: Path) -> Iterator[Service]:
    """``python main.py`` with real weights, as the README's first command runs it."""
    with embedded_service(
        tmp_path_factory.mktemp("web"),
        MODELS_DIR=str(image_models),
        USE_GPU="FALSE",
        IMAGE_WAIT_SECONDS="120",
        **OFFLINE_WEIGHTS,
    ) as service:
        yield service


@pytest.fixture(scope="session")
def shots_dir() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        count = len(list(SCREENSHOTS.glob("*.png")))
        terminalreporter.write_line(f"web app screenshots ({count}): {SCREENSHOTS}")


@dataclass
class Watch:
    """What went wrong in one page, as the page itself reported it."""

    page: Page
    problems: list[str] = field(default_factory=list)
    allowed: list[tuple[int, str]] = field(default_factory=list)

    def allow(self, status: int, url_part: str) -> None:
        """A failed request the test provokes on purpose (Chromium logs each as an error)."""
        self.allowed.append((status, url_part))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        failed = _FAILED_LOAD.match(message.text)
        url = message.location.get("url", "")
        if failed and any(int(failed[1]) == status and part in url
                          for status, part in self.allowed):
            return
        self.problems.append(f"console {message.type}: {message.text} ({url})")

    def assert_clean(self) -> None:
        violations = self.page.evaluate("window.__cspViolations || []")
        assert not violations, f"CSP violations: {violations}"
        assert not self.problems, "\n".join(self.problems)


OpenPage = Callable[[ViewportSize], tuple[Page, Watch]]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """A fresh browser profile (its own sessionStorage) at a viewport, and its watch."""
    opened: list[tuple[Any, Watch]] = []

    def make(viewport: ViewportSize) -> tuple[Page, Watch]:
        context = browser.new_context(viewport=viewport, accept_downloads=True, locale="es-ES")
        context.set_default_timeout(30_000)
        context.add_init_script(_CSP_PROBE)
        page = context.new_page()
        watch = Watch(page)
        page.on("console", watch.on_console)
        page.on("pageerror", lambda error: watch.problems.append(f"page error: {error}"))
        opened.append((context, watch))
        return page, watch

    yield make
    try:
        for _, watch in opened:
            watch.assert_clean()
    finally:
        for context, _ in opened:
            context.close()


Shoot = Callable[[Page, str], Path]


@pytest.fixture
def shoot(shots_dir: Path) -> Shoot:
    """Save a full-page screenshot as ``<screen>-<desktop|phone>.png``."""

    def take(page: Page, screen: str) -> Path:
        size = page.viewport_size or DESKTOP
        path = shots_dir / f"{screen}-{'phone' if size['width'] < 600 else 'desktop'}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return take


@dataclass(frozen=True)
class Account:
    username: str
    email: str
    password: str = PASSWORD


def new_account() -> Account:
    name = f"web_{uuid.uuid4().hex[:10]}"
    return Account(name, f"{name}@ejemplo.com")


def jwt_key(service: Service) -> str:
    """The key the embedded run generated and keeps in ``DATA_DIR/jwt_secret`` (so a test
    can make a genuinely expired token of a real session)."""
    return (service.data_dir / "jwt_secret").read_text().strip()


def register(service: Service, account: Account) -> None:
    answer = httpx.post(f"{service.url}/api/auth/register", timeout=30, json={
        "username": account.username, "email": account.email, "password": account.password})
    assert answer.status_code == 201, answer.text


def api_headers(service: Service, account: Account) -> dict[str, str]:
    """A separate API session for the account (the test's own view of the service)."""
    answer = httpx.post(f"{service.url}/api/auth/login", timeout=30,
                        json={"email": account.email, "password": account.password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['tokens']['access_token']}"}


def sign_in(page: Page, service: Service, account: Account) -> None:
    page.goto(f"{service.url}/#/login")
    page.get_by_label("Correo electrónico").fill(account.email)
    page.get_by_label("Contraseña").fill(account.password)
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_role("heading", name="Mejorar una foto")).to_be_visible()


def signed_in_page(open_page: OpenPage, service: Service) -> tuple[Page, Watch, Account]:
    """A new user, registered through the API and signed in through the page."""
    account = new_account()
    register(service, account)
    page, watch = open_page(DESKTOP)
    sign_in(page, service, account)
    return page, watch, account


# Every visible control has a name people and screen readers can use.
_UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter((e) => e.getClientRects().length > 0)
  .filter((e) => {
    const label = e.labels && [...e.labels].map((l) => l.textContent).join(' ');
    const name = label || e.getAttribute('aria-label') || e.textContent || e.getAttribute('alt');
    return !(name || '').trim();
  })
  .map((e) => e.outerHTML.slice(0, 120))"""


def assert_usable(page: Page) -> None:
    """Labelled controls, and nothing wider than the screen (no sideways scrolling)."""
    assert page.evaluate(_UNLABELLED) == []
    width = (page.viewport_size or DESKTOP)["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def wait_until(page: Page, function: str, timeout: float = 60) -> object:
    """Poll a JS function until it returns something truthy. (Playwright's wait_for_function
    evaluates strings in the page, which the page's CSP rightly refuses.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(function)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {function}"
        time.sleep(0.1)
