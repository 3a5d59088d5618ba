"""``LOG_FORMAT=json`` on the real embedded service (real weights, a real clip): every line is
one JSON object, and one video job can be followed through the API and every stage by its
id, with the stage and chunk of each line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.client.conftest import SERVICE_ENV, register
from tests.common.media.clips import make_clip
from tests.embedded import embedded_service
from tests.image_models import image_models

__all__ = ["image_models"]


def test_one_job_followed_across_stages_in_json_lines(tmp_path: Path,
                                                      image_models: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=16, gop=4)
    with embedded_service(tmp_path, MODELS_DIR=str(image_models), LOG_FORMAT="json",
                          **SERVICE_ENV) as service:
        account = register(service.url)
        tokens = httpx.post(f"{service.url}/api/auth/login", timeout=30, json={
            "email": account.email, "password": account.password}).json()["tokens"]
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        with clip.open("rb") as upload:
            answer = httpx.post(f"{service.url}/api/videos/enhance", headers=auth, timeout=60,
                                files={"file": ("clip.mp4", upload, "video/mp4")},
                                data={"model_type": "anime_video", "scale": "1"})
        assert answer.status_code == 202, answer.text
        video_id = answer.json()["video"]["id"]
        deadline = time.monotonic() + 120
        while True:
            video = httpx.get(f"{service.url}/api/videos/{video_id}?include_base64=false",
                              headers=auth, timeout=30).json()["video"]
            if video["status"] in ("completed", "error") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert video["status"] == "completed", video
        text = service.log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    about = [line for line in lines if line.get("job_id") == video_id]
    assert {line["kind"] for line in about} == {"video"}
    stages = {line.get("stage") for line in about}
    assert {"decode", "upscale", "encode"} <= stages, stages
    assert any(line["logger"].startswith("ingress") and "stage" not in line for line in about)
    chunks = {line["chunk"] for line in about if line.get("stage") == "upscale" and
              "chunk" in line}
    assert len(chunks) >= 2, "each chunk's lines name their chunk"
