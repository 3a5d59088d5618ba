"""``/openapi.json`` tells the truth, and ``/docs`` and ``/redoc`` work without internet.

Validated with openapi-spec-validator; bearer authentication declared where routes need it;
no 422 (the API answers 400); the manual's field names and examples; and a tour of real
requests, one per status each route can answer, whose every answer must be documented for
its route (schemathesis does the same at random: ``test_schemathesis.py``).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from common.heartbeat import Heartbeat, WorkerInfo
from common.model_status import REPORT_FIELD, ModelState, Weights
from common.runtime import Runtime
from common.settings import Settings
from ingress.errors import _template_regex
from tests.embedded import manual_code_blocks
from tests.image_samples import b64
from tests.ingress.conftest import SignedUp, make_settings
from tests.ingress.docs_pages import check_pages
from tests.ingress.image_files import fail, picture
from tests.ingress.video_clips import make_clip

# Active jobs per user here: the tour's user stays below it, a crowd of one goes over it.
QUOTA = 3
PROTECTED_PREFIXES = ("/api/images", "/api/videos", "/api/auth/me", "/api/auth/logout",
                      "/api/webhooks")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
# Other ways in, exactly where they work: an event stream opens with the header or a ticket
# (EventSource sends no headers); /metrics needs METRICS_TOKEN only where it is set.
OTHER_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "/api/images/{image_id}/events": [{"bearerAuth": []}, {"eventTicket": []}],
    "/api/videos/{video_id}/events": [{"bearerAuth": []}, {"eventTicket": []}],
    "/metrics": [{"metricsToken": []}, {}],
}


@pytest.fixture
def settings() -> Settings:
    return make_settings(image_wait_seconds=0, max_request_bytes=64 * 1024,
                         login_max_failures=2, max_active_jobs_per_user=QUOTA)


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_the_document_is_valid_openapi(client: httpx.AsyncClient) -> None:
    validate(await _document(client))


async def test_bearer_auth_is_declared_where_a_token_is_needed(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "El access_token de POST /api/auth/login"}
    schemes = document["components"]["securitySchemes"]
    assert schemes["eventTicket"] == {"type": "apiKey", "in": "query", "name": "ticket",
                                      "description": schemes["eventTicket"]["description"]}
    assert schemes["metricsToken"]["type"] == "http"
    assert schemes["metricsToken"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            protected = path.startswith(PROTECTED_PREFIXES)
            expected = OTHER_SECURITY.get(path, BEARER if protected else None)
            assert operation.get("security") == expected, (method, path)
            assert not any(p["name"] == "ticket" for p in operation.get("parameters", [])), (
                "the ticket is declared as a security scheme, not a parameter", path)
            assert ("401" in operation["responses"]) == (
                expected is not None or path in ("/api/auth/login", "/api/auth/refresh")), (
                method, path)


async def test_no_route_documents_422_and_every_error_is_the_manuals_body(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
            for status, answer in operation["responses"].items():
                if status.startswith(("4", "5")) and path != "/api/health":
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)
            validated = [p for p in operation.get("parameters", []) if p["in"] != "path"]
            if validated or "requestBody" in operation:
                assert "400" in operation["responses"], (method, path)


def _schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


async def test_the_bodies_carry_the_manuals_fields_and_examples(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    (example,) = manual_code_blocks("json", "#### Mejorar una Imagen")
    manual_image = json.loads(example)
    assert _schema(document, "ImageAnswer")["examples"] == [manual_image]
    assert list(_schema(document, "ImageView")["properties"]) == list(manual_image["image"])
    models = _schema(document, "ModelEntry")["properties"]
    assert list(models)[-2:] == ["available", "weights"]
    weights = _schema(document, "Weights")["enum"]
    assert weights == ["official", "converted", "imported", "downloads on first use",
                       "missing", "unknown"]
    login = document["paths"]["/api/auth/login"]["post"]["responses"]["200"]
    assert login["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LoggedIn"}
    body = document["paths"]["/api/images/enhance"]["post"]["requestBody"]["content"]
    payload = body["application/json"]["schema"]["properties"]["image_base64"]
    assert payload["minLength"] == 1  # "" is refused, and the document says so


def _operation_of(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    paths = document["paths"]
    if path in paths:
        return dict(paths[path][method.lower()])
    import re

    for template, operations in paths.items():
        if re.fullmatch(_template_regex(template), path) and method.lower() in operations:
            return dict(operations[method.lower()])
    raise AssertionError(f"{method} {path} is not in the document")


async def test_every_status_a_route_answers_is_documented(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, sign_up: Any,
) -> None:
    """One real request per status each route can answer (missing token, bad input, unknown
    id, conflicts, too large, throttled, over the job quota, model missing), each checked
    against the document."""
    document = await _document(client)
    seen: dict[tuple[str, str], set[int]] = {}
    auth = user.headers

    async def call(method: str, path: str, **options: Any) -> httpx.Response:
        response = await client.request(method, path, **options)
        route = _operation_of(document, method, path.split("?")[0])
        assert str(response.status_code) in route["responses"], (
            method, path, response.status_code, response.text[:200])
        area = path.split("?")[0].split("/")[2 if path.startswith("/api/") else 1]
        area = "events" if "/events" in path else area
        seen.setdefault((method, area), set()).add(response.status_code)
        return response

    small = {"image_base64": b64(picture(8, 8))}
    video = {"video_base64": base64.b64encode(b"not a video").decode(), "filename": "a.mp4"}
    huge = {"image_base64": "A" * 70_000}
    image = (await call("POST", "/api/images/enhance", headers=auth, json=small)).json()
    image_id = image["image"]["id"]
    ended = (await call("POST", "/api/images/enhance", headers=auth, json=small)).json()
    await fail(runtime, ended["image"]["id"], "sin memoria")  # its stream ends at once
    stream = f"/api/images/{ended['image']['id']}/events"
    tour: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/images/enhance", {"json": small}),
        ("POST", "/api/images/enhance", {"headers": auth, "json": {"image_base64": ""}}),
        ("POST", "/api/images/enhance", {"headers": auth, "json": huge}),
        ("POST", "/api/videos/enhance", {"headers": auth, "json": video}),
        ("POST", "/api/videos/enhance", {"headers": auth, "json": huge}),
        ("GET", "/api/images?page=0", {"headers": auth}),
        ("GET", "/api/images", {"headers": auth}),
        ("GET", "/api/videos?status=nope", {"headers": auth}),
        ("GET", f"/api/images/{image_id}", {"headers": auth}),
        ("GET", f"/api/images/{image_id}?include_base64=maybe", {"headers": auth}),
        ("GET", f"/api/images/{image_id}/original", {"headers": auth}),
        ("GET", f"/api/images/{image_id}/enhanced", {"headers": auth}),
        ("GET", "/api/images/0", {"headers": auth}),
        ("GET", "/api/videos/0/enhanced", {"headers": auth}),
        ("DELETE", "/api/videos/abc", {"headers": auth}),
        ("POST", "/api/auth/register", {"json": {"username": user.username,
                                                 "email": user.email, "password": "x" * 9}}),
        ("POST", "/api/auth/register", {"json": {"username": "a"}}),
        ("POST", "/api/auth/refresh", {"json": {"refresh_token": "nope"}}),
        ("GET", "/api/auth/me", {"headers": {"Authorization": "Basic x"}}),
        ("GET", "/api/auth/me", {"headers": auth}),
        ("GET", "/api/health", {}),
        ("GET", "/api/info", {}),
        ("GET", "/api/models", {}),
        ("GET", stream, {"headers": auth}),
        ("GET", stream, {}),
        ("GET", "/api/videos/0/events", {"headers": auth}),
        ("POST", f"{stream}/ticket", {"headers": auth}),
        ("POST", f"{stream}/ticket", {}),
        ("POST", "/api/videos/0/events/ticket", {"headers": auth}),
        ("GET", "/api/webhooks", {"headers": auth}),
        ("GET", "/api/webhooks", {}),
        ("PUT", "/api/webhooks", {"headers": auth, "json": {"callback_url": None}}),
        ("PUT", "/api/webhooks", {"headers": auth, "json": {"callback_url": "ftp://x.org/"}}),
        ("PUT", "/api/webhooks", {"headers": auth, "json": {"callback_url": "http://10.0.0.1/"}}),
        ("PUT", "/api/webhooks", {"headers": auth, "json": {"callback_url": "x" * 70_000}}),
        ("PUT", "/api/webhooks", {"json": {"callback_url": None}}),
        ("POST", "/api/webhooks/secret", {"headers": auth}),
        ("GET", "/api/webhooks/deliveries", {"headers": auth}),
        ("GET", "/api/webhooks/deliveries?per_page=0", {"headers": auth}),
        ("GET", "/metrics", {}),
    ]
    for method, path, options in tour:
        await call(method, path, **options)
    for _ in range(3):  # over the per-email limit of this module's settings: 429
        await call("POST", "/api/auth/login", json={"email": user.email, "password": "wrong!"})
    # A model every worker reports missing: 503 for images and videos.
    missing = ModelState(Weights.MISSING, datetime.now(UTC) + timedelta(minutes=5), "sin pesos")

    async def report() -> dict[str, Any]:
        return {REPORT_FIELD: {"general_v3": missing.to_doc()}}

    beat = Heartbeat(runtime.store, WorkerInfo("upscale", "cpu", "test"), report)
    await beat.start()
    try:
        await call("POST", "/api/images/enhance", headers=auth,
                   json={**small, "model_type": "general_v3"})
        await call("POST", "/api/videos/enhance", headers=auth,
                   json={**video, "model_type": "general_v3"})
    finally:
        await beat.stop()
    other = await sign_up()
    await call("POST", "/api/auth/logout", headers=other.headers,
               json={"refresh_token": other.refresh_token})
    # A user with QUOTA jobs still pending: the next image and video are refused (429).
    crowd = await sign_up()
    for _ in range(QUOTA):
        await call("POST", "/api/images/enhance", headers=crowd.headers, json=small)
    await call("POST", "/api/images/enhance", headers=crowd.headers, json=small)
    await call("POST", "/api/videos/enhance", headers=crowd.headers,
               json={"video_base64": b64(make_clip(frames=4)), "filename": "v.mp4"})
    await call("DELETE", f"/api/images/{image_id}", headers=auth)
    assert seen[("POST", "images")] == {202, 400, 401, 413, 429, 503}
    assert seen[("POST", "videos")] == {400, 413, 429, 503}
    assert seen[("POST", "auth")] >= {200, 400, 401, 409, 429}
    assert seen[("GET", "images")] >= {200, 400, 404, 409}
    assert seen[("DELETE", "images")] == {200} and seen[("DELETE", "videos")] == {404}
    assert seen[("GET", "events")] == seen[("POST", "events")] == {200, 401, 404}
    assert seen[("PUT", "webhooks")] == {200, 400, 401, 413}
    assert seen[("GET", "webhooks")] == {200, 400, 401}
    assert seen[("POST", "webhooks")] == {200} and seen[("GET", "metrics")] == {200}


async def test_the_docs_pages_load_every_asset_from_this_service(
    client: httpx.AsyncClient,
) -> None:
    loaded = await check_pages(client.get)
    assert set(loaded) == {"/docs", "/redoc", "/openapi.json",
                           "/static-offline-docs/swagger-ui.css",
                           "/static-offline-docs/swagger-ui-bundle.js",
                           "/static-offline-docs/redoc.standalone.js",
                           "/static-offline-docs/favicon.png"}
    for script in ("swagger-ui-bundle.js", "redoc.standalone.js"):
        assert loaded[f"/static-offline-docs/{script}"].headers["content-type"].startswith(
            ("text/javascript", "application/javascript")), script
    assert '"validatorUrl": null' in loaded["/docs"].text  # no badge fetched from swagger.io
