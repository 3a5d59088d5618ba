"""Hostile and odd input against the distributed API: broken, disguised and oversized uploads,
bad fields, forged tokens. Every one gets a 4xx with the manual's body and leaves nothing
behind; an AVI whose subtitles have no codec is processed to the end without them."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

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


async def test_hostile_uploads_and_forged_tokens_get_4xx_and_store_nothing(
    faults: Faults, tmp_path: Path
) -> None:
    headers = await faults.sign_up()
    stored_before = await faults.store.db["blobs.files"].count_documents({})
    images = "/api/images/enhance"
    videos = "/api/videos/enhance"
    text = b"just some text, not media at all\n" * 10
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", images, {"json": {"image_base64": "###not base64###"}}),
        ("POST", images, {"json": {"image_base64": ""}}),
        ("POST", images, {"files": {"file": ("a.jpg", truncated_jpeg(), "image/jpeg")}}),
        ("POST", images, {"files": {"file": ("a.gif", gif(), "image/gif")}}),
        ("POST", images, {"files": {"file": ("b.png", png_header_claiming(90_000, 90_000),
                                             "image/png")}}),
        ("POST", images, {"files": {"file": ("t.png", text, "image/png")}}),
        ("POST", images, {"files": {"file": ("a.png", picture(8, 8), "image/png")},
                          "data": {"scale": "9"}}),
        ("POST", images, {"files": {"file": ("a.png", picture(8, 8), "image/png")},
                          "data": {"model_type": "../../etc/passwd"}}),
        ("POST", images, {"files": {"file": ("a.png", picture(8, 8), "image/png")},
                          "data": {"output_width": "-5"}}),
        ("POST", images, {"content": b"{not json", "headers": {"content-type":
                                                                "application/json"}}),
        ("POST", videos, {"files": {"file": ("v.mp4", text, "video/mp4")}}),
        ("POST", videos, {"files": {"file": ("v.mp4", picture(16, 16), "video/mp4")}}),
        ("POST", videos, {"json": {"video_base64": base64.b64encode(text).decode(),
                                   "filename": "noextension"}}),
        ("GET", "/api/videos/../../etc/passwd", {}),
        ("GET", "/api/images/not-an-id", {}),
        ("DELETE", "/api/videos/65f0c0ffee0123456789abcd", {}),
    ]
    for method, path, options in requests:
        extra = options.pop("headers", {})
        answer = await faults.http.request(method, path, headers={**headers, **extra},
                                           **options)
        LEDGER.bad_inputs += 1
        assert 400 <= answer.status_code < 500, f"{method} {path}: {answer.status_code}"
        assert set(answer.json()) == {"error"}, answer.text
    for token in _forged(headers["Authorization"].split()[1]):
        answer = await faults.http.get("/api/videos", headers={"Authorization": f"Bearer {token}"})
        LEDGER.bad_inputs += 1
        assert answer.status_code == 401, (token, answer.text)
    for bogus in ("x" * 64, "short"):
        answer = await faults.http.post("/api/auth/refresh", json={"refresh_token": bogus})
        LEDGER.bad_inputs += 1
        assert answer.status_code == 401
    assert await faults.store.db["blobs.files"].count_documents({}) == stored_before

    odd = await faults.submit_video(headers, make_avi_with_gab2(tmp_path / "gab2.avi",
                                                                frames=20))
    done = await faults.completed_exactly(odd)
    assert done["dropped_streams"] == ["subtitle#1 (codec unknown)"]
