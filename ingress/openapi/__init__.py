"""The API's own description: ``/openapi.json`` that says what the API does, and ``/docs`` and
``/redoc`` that work offline.

- The pages load Swagger UI and ReDoc from the installed ``fastapi-offline`` package, served
  by this service under ``/static-offline-docs`` (no CDN, no web fonts, no validator badge).
- The document declares bearer authentication (Swagger's "Authorize" takes the
  ``access_token`` of ``POST /api/auth/login``), every status each route answers with the
  manual's bodies (``responses.answers`` on each route), and the 400 ``{"error": ...}`` the
  API gives for invalid input instead of FastAPI's 422, which it never answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from ingress.openapi import schemas

DESCRIPTION = """\
REST API del manual de usuario (docs/user-manual.es.md): autenticación, modelos, imágenes,
videos y estado del servicio. Las rutas de imágenes y videos piden
`Authorization: Bearer <access_token>` (botón **Authorize**, con el `access_token` de
`POST /api/auth/login`). Todo error es `{"error": "..."}`.
"""

SECURITY_SCHEME = "bearerAuth"


def create_documented_app(**options: Any) -> FastAPI:
    """A FastAPI app whose docs pages and OpenAPI document are the ones described above."""
    app = FastAPIOffline(description=DESCRIPTION,
                         swagger_ui_parameters={"validatorUrl": None}, **options)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            app.openapi_schema = _with_examples(_without_422(schema))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _with_examples(schema: dict[str, Any]) -> dict[str, Any]:
    """The manual's examples as written: FastAPI drops their ``null`` values on the way out
    (``"error_message": null`` of a completed image), so they are put back from the models."""
    components = schema.get("components", {}).get("schemas", {})
    for name, model in vars(schemas).items():
        if isinstance(model, type) and issubclass(model, BaseModel) and name in components:
            examples = model.model_json_schema().get("examples")
            if examples:
                components[name]["examples"] = examples
    return schema


def _without_422(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop the 422 FastAPI adds to every route with parameters: the API answers invalid
    input with 400, which each route that can give it documents itself (``answers``)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema
