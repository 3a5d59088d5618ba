"""Hostile and odd input against the distributed API: broken, disguised and oversized uploads,
bad fields, forged tokens. Every one gets a 4xx with the manual's body and leaves nothing
behind; an AVI whose subtitles have no codec is processed to the end without them."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from common.settings import Settings
from tests.common.media.avi import make_avi_with_gab2
from tests.faults.harness import LEDGER, Faults
from tests.image_samples import gif, png_header_claiming, truncated_jpeg
from tests.ingress.image_files import picture

pytestmark = pytest.mark.rabbitmq

SECRET = "k" * 40  # the suite's JWT_SECRET_KEY (tests/distributed.py)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(real: str) -> list[str]:
    claims: dict[str, Any] = jwt.decode(real, options={"verify_signature": False})
    none = f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}." \
           f"{_b64(json.dumps(claims).encode())}."
    header, _, signature = real.split(".")
    tampered = f"{header}.{_b64(json.dumps({**claims, 'sub': 'someone-else'}).encode())}." \
               f"{signature}"
    return [
        none,
        tampered,
        jwt.encode(claims, "another-key-" + "x" * 40, algorithm="HS256"),
        jwt.encode({**claims, "exp": int(time.time()) - 60}, SECRET, algorithm="HS256"),
        jwt.encode({**claims, "typ": "refresh"}, SECRET, algorithm="HS256"),
        "garbage", "a.b.c",
    ]


def _cases() -> list[tuple[str, str, dict[str, Any], int, str]]:
    """(method, path, request options, the status, the error text) of each hostile request."""
    images, videos = "/api/images/enhance", "/api/videos/enhance"
    text = b"just some text, not media at all\n" * 10
    png = ("a.png", picture(8, 8), "image/png")
    bad_data, no_video = "Datos de imagen inválidos", (
        "Formato de video no soportado: se aceptan MP4/MOV, MKV/WebM, AVI y MPEG-TS")
    max_pixels = Settings.model_fields["max_input_pixels"].default
    return [
        ("POST", images, {"json": {"image_base64": "###not base64###"}}, 400, bad_data),
        ("POST", images, {"json": {"image_base64": ""}}, 400, bad_data),
        ("POST", images, {"files": {"file": ("a.jpg", truncated_jpeg(), "image/jpeg")}},
         400, bad_data),
        ("POST", images, {"files": {"file": ("a.gif", gif(), "image/gif")}},
         400, "Formato no soportado: gif"),
        ("POST", images, {"files": {"file": ("b.png", png_header_claiming(90_000, 90_000),
                                             "image/png")}},
         413, f"La imagen supera el máximo de {max_pixels} píxeles"),
        ("POST", images, {"files": {"file": ("t.png", text, "image/png")}}, 400, bad_data),
        ("POST", images, {"files": {"file": png}, "data": {"scale": "9"}},
         400, "Campo inválido 'scale': Input should be less than or equal to 4"),
        ("POST", images, {"files": {"file": png}, "data": {"model_type": "../../etc/passwd"}},
         400, "model_type inválido: '../../etc/passwd'. Valores permitidos: general_x4, "
              "general_x2, anime, anime_video, general_v3"),
        ("POST", images, {"files": {"file": png}, "data": {"output_width": "-5"}},
         400, "Campo inválido 'output_width': Input should be greater than or equal to 1"),
        ("POST", images, {"content": b"{not json",
                          "headers": {"content-type": "application/json"}},
         400, "Campo inválido 'body': Invalid JSON: key must be a string at line 1 column 2"),
        ("POST", videos, {"files": {"file": ("v.mp4", text, "video/mp4")}}, 400, no_video),
        ("POST", videos, {"files": {"file": ("v.mp4", picture(16, 16), "video/mp4")}},
         400, no_video),
        ("POST", videos, {"json": {"video_base64": base64.b64encode(text).decode(),
                                   "filename": "noextension"}},
         400, "filename debe incluir una extensión válida (ej. mi_video.mp4): 'noextension'"),
        ("GET", "/api/images/not-an-id", {}, 404, "Imagen no encontrada"),
        ("DELETE", "/api/videos/65f0c0ffee0123456789abcd", {}, 404, "Video no encontrado"),
    ]


# Sent byte for byte (an HTTP client would resolve the dots before sending): the ids that
# reach the video route, and the paths that leave every route.
RAW_TARGETS = [
    ("/api/videos/..", 404, "Video no encontrado"),
    ("/api/videos/%2e%2e", 404, "Video no encontrado"),
    ("/api/videos/../../etc/passwd", 404, "Ruta no encontrada"),
    ("/api/videos/..%2F..%2Fetc%2Fpasswd", 404, "Ruta no encontrada"),
    ("/api/images/%2e%2e/%2e%2e/etc/passwd", 404, "Ruta no encontrada"),
]


async def raw_get(url: str, target: str, headers: dict[str, str]) -> tuple[int, Any]:
    """GET ``target`` exactly as written; (status, JSON body)."""
    parts = httpx.URL(url)
    reader, writer = await asyncio.open_connection(parts.host, parts.port)
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.host}:{parts.port}",
             "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_hostile_uploads_and_forged_tokens_get_4xx_and_store_nothing(
    faults: Faults, tmp_path: Path
) -> None:
    headers = await faults.sign_up()
    stored_before = await faults.store.db["blobs.files"].count_documents({})
    for method, path, options, status, error in _cases():
        extra = options.pop("headers", {})
        answer = await faults.http.request(method, path, headers={**headers, **extra},
                                           **options)
        LEDGER.bad_inputs += 1
        assert (answer.status_code, answer.json()) == (status, {"error": error}), \
            f"{method} {path}"
    for target, status, error in RAW_TARGETS:
        got = await raw_get(str(faults.http.base_url), target, headers)
        LEDGER.bad_inputs += 1
        assert got == (status, {"error": error}), target
    for token in _forged(headers["Authorization"].split()[1]):
        answer = await faults.http.get("/api/videos", headers={"Authorization": f"Bearer {token}"})
        LEDGER.bad_inputs += 1
        assert (answer.status_code, answer.json()) == (
            401, {"error": "Token inválido o expirado"}), token
    for bogus in ("x" * 64, "short"):
        answer = await faults.http.post("/api/auth/refresh", json={"refresh_token": bogus})
        LEDGER.bad_inputs += 1
        assert (answer.status_code, answer.json()) == (
            401, {"error": "Token inválido o expirado"}), bogus
    assert await faults.store.db["blobs.files"].count_documents({}) == stored_before

    odd = await faults.submit_video(headers, make_avi_with_gab2(tmp_path / "gab2.avi",
                                                                frames=20))
    done = await faults.completed_exactly(odd)
    assert done["dropped_streams"] == ["subtitle#1 (codec unknown)"]
