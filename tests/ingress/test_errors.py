"""The API edge: the exception tree becomes the manual's ``{"error": ...}`` bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from common import errors
from ingress.errors import install_error_handlers
from ingress.limits import BodySizeLimit


class Body(BaseModel):
    scale: int = Field(ge=1, le=4)


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=1000)

    @app.post("/validate")
    async def validate(body: Body) -> dict[str, int]:
        return {"scale": body.scale}

    @app.get("/raise/{kind}")
    async def raise_(kind: str) -> None:
        raise {
            "invalid": errors.InvalidInput("Datos de imagen inválidos"),
            "format": errors.UnsupportedFormat("Formato no soportado: gif"),
            "large": errors.TooLarge("Imagen demasiado grande"),
            "auth": errors.AuthError("Token inválido o expirado"),
            "missing": errors.NotFound("No encontrado"),
            "conflict": errors.Conflict("Ya existe"),
            "down": errors.PublishError("broker did not confirm"),
            "processing": errors.ProcessingError("Error procesando imagen: CUDA out of memory"),
            "bug": RuntimeError("secret internals"),
        }[kind]

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("invalid", 400, "Datos de imagen inválidos"),
        ("format", 400, "Formato no soportado: gif"),
        ("large", 413, "Imagen demasiado grande"),
        ("auth", 401, "Token inválido o expirado"),
        ("missing", 404, "No encontrado"),
        ("conflict", 409, "Ya existe"),
        ("down", 503, "broker did not confirm"),
        ("processing", 500, "Error procesando imagen: CUDA out of memory"),
    ],
)
async def test_errors_map_to_status_and_manual_body(
    client: httpx.AsyncClient, kind: str, status: int, message: str
) -> None:
    response = await client.get(f"/raise/{kind}")
    assert response.status_code == status
    assert response.json() == {"error": message}


async def test_unexpected_errors_do_not_leak_internals(client: httpx.AsyncClient) -> None:
    response = await client.get("/raise/bug")
    assert response.status_code == 500
    assert response.json() == {"error": "Error interno del servidor"}


async def test_validation_errors_are_400_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/validate", json={"scale": 9})
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["error"]
    assert "scale" in body["error"]


async def test_unknown_route_keeps_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert list(response.json()) == ["error"]


async def test_oversized_body_is_413_before_the_route_runs(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/validate", content=b"x" * 2000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "error" in response.json()


async def test_oversized_chunked_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 400

    response = await client.post(
        "/validate", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
