"""Schemathesis against the real app: no 5xx, and every answer as ``/openapi.json`` says.

The app (``ingress.app.create_app``) runs in this process on a real database and the
in-memory bus, served by uvicorn on a loop of its own (the MongoDB client belongs to one event
loop), and schemathesis sends real HTTP requests generated from the document: valid and
invalid bodies, parameters and headers, methods the path does not have. Every case carries
the token of a fresh session of one registered user (a generated logout only ends its own).

Every check schemathesis has runs, with expectations widened only where the schema cannot
speak:

- a schema-valid ``image_base64``/``video_base64``/``file`` is any non-empty string, but only
  real image or video bytes within the pixel budgets are accepted, so for the two upload
  routes a valid-looking body may also get the manual's 400 or 413;
- a ``callback_url`` written as its pattern says may still lead somewhere webhooks may not
  go (a name that does not resolve now, a private or loopback address), so ``PUT
  /api/webhooks`` may also answer 400; ``callback_refused_only_for_where_it_leads`` checks
  that such a 400 (here and on the upload routes) says exactly that and nothing else.

Event streams are read up to their first event: this app has no workers, so a job's stream
holds its snapshot and then only keep-alives.

Deterministic (``derandomize``) and bounded (``MAX_EXAMPLES`` per operation and mode), so it
fits in CI: ``.venv/bin/python -m pytest tests/ingress/test_schemathesis.py``.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from schemathesis.engine import events

from common.bus import MemoryBus
from common.media.errors import without_paths
from common.runtime import Runtime
from common.store import Store
from ingress.app import create_app
from ingress.auth import users
from ingress.auth.sessions import Sessions
from ingress.server import serve_until
from tests.embedded import free_port
from tests.ingress.conftest import SECRET, make_settings

MAX_EXAMPLES = 12
T = TypeVar("T")

CONFIG = f"""
seed = 20261130

[generation]
max-examples = {MAX_EXAMPLES}

[[operations]]
include-path-regex = "^/api/(images|videos)/enhance$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "413"]

[[operations]]
include-path-regex = "^/api/webhooks$"
include-method = "PUT"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "413"]

[[operations]]
include-path-regex = "^/api/(images|videos)/[^/]+/events$"
max-stream-events = 1
"""
# Checks that must have run for a fuzzing run to count (tests/faults/test_schemathesis.py too).
CHECKS_THAT_MATTER = ("not_a_server_error", "status_code_conformance",
                      "response_schema_conformance", "content_type_conformance",
                      "negative_data_rejection", "ignored_auth", "unsupported_method",
                      "use_after_free", "callback_refused_only_for_where_it_leads",
                      "no_server_path_in_errors")
MISSING_WEIGHTS = re.compile(r"(Modelo \S+|face_enhance) no disponible: faltan (sus|los) pesos")
# The only refusals a schema-valid callback_url may get: where it leads (AddressPolicy).
ADDRESS_REFUSALS = ("callback_url no permitida:", "callback_url inválida: no se pudo resolver")


@schemathesis.check
def callback_refused_only_for_where_it_leads(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schema-valid request refused with 400 because of its ``callback_url`` (any 400, for
    ``PUT /api/webhooks``) is refused for the one rule the schema cannot state."""
    if case.meta is None or not case.meta.generation.mode.is_positive \
            or response.status_code != 400:
        return None
    error = str(response.json().get("error", ""))
    if "callback_url" in error or case.operation.label == "PUT /api/webhooks":
        assert error.startswith(ADDRESS_REFUSALS), (
            f"schema-valid data refused for something the schema allows: {error}")
    return True


def _error_of(response: Any) -> str | None:
    """The manual's ``{"error": ...}`` text of an answer, if it is one."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body["error"]) if isinstance(body, dict) and "error" in body else None


@schemathesis.check
def no_server_path_in_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """No error body names a path of the server's disk (issue 24)."""
    error = _error_of(response)
    if error is None:
        return None
    assert without_paths(error) == error, f"a server path in an error: {error}"
    return True


@schemathesis.check
def a_503_only_for_missing_weights_or_an_outage(ctx: Any, response: Any,
                                                case: Any) -> bool | None:
    """The one 503 a healthy deployment gives: a model whose weights are not there."""
    if response.status_code != 503:
        return None
    error = _error_of(response)
    assert error is not None and MISSING_WEIGHTS.search(error), f"an undocumented 503: {error}"
    return True


class LiveApp:
    """The app served by uvicorn on its own thread and event loop."""

    def __init__(self, mongo_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._mongo_url = mongo_url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop: asyncio.Event | None = None
        self._served: Future[None] | None = None

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> None:
        self._thread.start()
        self.runtime, self.app = self.run(self._open())
        self._served = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        for _ in range(200):
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            threading.Event().wait(0.05)
        raise RuntimeError("the app did not start")

    async def _open(self) -> tuple[Runtime, Any]:
        # The prober submits more jobs than a user may have pending (no worker ever finishes
        # them): its quota is out of reach, so every upload gets its data judged. The quota's
        # 429 is documented on both upload routes; test_openapi's tour meets it for real.
        settings = make_settings(api_host="127.0.0.1", api_port=self.port, image_wait_seconds=0,
                                 max_active_jobs_per_user=100_000,
                                 max_submissions_per_minute=100_000)
        store = await Store.connect(self._mongo_url, f"fuzz_{uuid.uuid4().hex[:12]}",
                                    retry_seconds=10)
        await store.ensure_indexes()
        bus = MemoryBus(delivery_limit=3)
        await bus.start()
        runtime = Runtime(settings=settings, store=store, bus=bus, embedded=False)
        return runtime, create_app(runtime, jwt_secret=SECRET)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        await serve_until(self.app, self.runtime.settings, self._stop)

    async def _close(self) -> None:
        await self.runtime.bus.close()
        await self.runtime.store.drop_database()
        await self.runtime.store.close()

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._served is not None:
            self._served.result(60)
        self.run(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()


@pytest.fixture(scope="module")
def live_app(mongo_url: str) -> Iterator[LiveApp]:
    app = LiveApp(mongo_url)
    app.start()
    user = app.run(users.register(app.runtime.store, "fuzzer", "fuzzer@ejemplo.com",
                                  "mipassword123"))
    app.user_id = str(user["_id"])  # type: ignore[attr-defined]
    yield app
    app.stop()


def fresh_token(app: LiveApp) -> str:
    sessions = Sessions(app.runtime.store, app.app.state.token_issuer, timedelta(days=1))
    tokens = app.run(sessions.start(app.user_id))  # type: ignore[attr-defined]
    return tokens.access_token


def run_schemathesis(url: str, token: Callable[[], str],
                     config_text: str = CONFIG) -> tuple[Counter[str], list[str], int]:
    """Every phase schemathesis has, on every operation of the API at ``url``, each case with
    a ``token()`` of its own: (checks run by name, failures and errors as text, requests)."""
    config = schemathesis.Config.from_str(config_text)
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)

    @schema.auth()
    class FreshSession:
        def get(self, case: Any, context: Any) -> str:
            return token()

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    checks: Counter[str] = Counter()
    problems: list[str] = []
    requests = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            requests += len(event.recorder.interactions)
            for case_id, nodes in event.recorder.checks.items():
                for node in nodes:
                    checks[node.name] += 1
                    if node.failure_info is not None:
                        problems.append(_describe(event.recorder, case_id, node))
        elif isinstance(event, events.NonFatalError | events.FatalError):
            problems.append(f"error: {getattr(event, 'label', '')} "
                            f"{getattr(event, 'value', getattr(event, 'exception', ''))!r:.500}")
    return checks, problems, requests


def _describe(recorder: Any, case_id: str, node: Any) -> str:
    case = recorder.cases[case_id].value
    answer = recorder.interactions.get(case_id)
    response = answer.response if answer is not None else None
    got = ("no response" if response is None
           else f"{response.status_code} {response.content[:200]!r}")
    failure = node.failure_info.failure
    return (f"{recorder.label} {node.name}: {failure.title}: {failure.message!s:.300}\n"
            f"    sent {case.method} {case.formatted_path} query={case.query} "
            f"body={str(case.body)[:300]} media={case.media_type}\n    got {got}")


def test_the_api_does_what_its_schema_says(live_app: LiveApp) -> None:
    checks, problems, requests = run_schemathesis(live_app.url, lambda: fresh_token(live_app))
    assert not problems, "\n".join(sorted(set(problems)))
    # It really ran: many requests, and the checks that matter here among those applied.
    assert requests > 500, requests
    for name in CHECKS_THAT_MATTER:
        assert checks[name] > 0, (name, checks)
