"""The README's first quick-start command: from a clean checkout it prepares the models it
can, serves a healthy API that answers the manual's first image request with 201, says which
models are missing, and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from bench._support.checkout import SERVE, clean_checkout, first_image, served
from bench._support.service import child_pids
from tests.embedded import embedded_service
from tests.image_models import OFFLINE_WEIGHTS
from tests.ingress.docs_pages import check_pages

ROOT = Path(__file__).resolve().parents[1]


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    assert readme.split("\n## ", 1)[1].startswith("Quick start"), "the README starts with it"
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the quick start holds one fenced code block"
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block
    return [line for line in block.group(1).splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_quick_start_has_exactly_two_commands() -> None:
    commands = _quick_start_commands()
    assert commands == ["./scripts/serve.sh", "./scripts/test.sh"]
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_first_command_serves_healthy_api_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("MONGO_URL", "AMQP_URL", "JWT_SECRET_KEY")
    }
    # The models are the clean-checkout test's (below): none are prepared in this working tree.
    env.update(API_PORT=str(port), API_HOST="127.0.0.1", DATA_DIR=str(tmp_path / "data"),
               SKIP_MODELS="1")
    command = _quick_start_commands()[0]
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([command], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        body = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                body = response.json()
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert proc.poll() is None, log.read_text()
        assert body is not None and body["status"] == "healthy", (body, log.read_text())
        assert body["services"]["api"] == "ok"
        assert body["services"]["mongodb"] == "ok"
        assert body["services"]["broker"] == "ok (in-process)"
        # No GPU here: the manual's gpu field says why instead of failing.
        assert body["services"]["gpu"]
        assert (tmp_path / "data" / "jwt_secret").exists()

        database = [pid for pid in child_pids(proc.pid) if "secantus" in _cmdline(pid)]
        assert database, "the embedded run spawns its own SecantusDB server"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in database) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in database), "the spawned database was stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.parametrize("signum", [signal.SIGINT])
def test_ctrl_c_also_stops_cleanly(tmp_path: Path, signum: int) -> None:
    port = _free_port()
    env = dict(os.environ, API_PORT=str(port), API_HOST="127.0.0.1", DATA_DIR=str(tmp_path))
    for key in ("MONGO_URL", "AMQP_URL", "JWT_SECRET_KEY"):
        env.pop(key, None)
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), "main.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the service did not become healthy")
        proc.send_signal(signum)
        assert proc.wait(timeout=60) in (0, 130)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def _docs_pages(url: str) -> None:
    """/docs and /redoc and every asset they load, from the running service alone."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        loaded = await check_pages(http.get)
    assert len(loaded) == 7, sorted(loaded)


def test_a_clean_checkout_answers_the_first_image_with_201(tmp_path: Path) -> None:
    """The README's first command on a fresh copy of the repository, with the weights'
    download host unreachable as on a machine that reaches only the package registries."""
    checkout = clean_checkout(tmp_path / "repo")
    assert not (checkout / "models").exists() and not (checkout / "data").exists()
    command = _quick_start_commands()[0]
    assert command == SERVE
    with served(checkout, _free_port(), **OFFLINE_WEIGHTS) as service:
        log = service.log.read_text()
        for model_type in ("general_x4", "anime", "anime_video"):
            assert f"\n{model_type}: converted, prepared in " in log, log
        for name in ("general_x2", "general_v3", "gfpgan"):
            assert f"\n{name}: unavailable. " in log, log
        response = first_image(service.url)
        assert response.status_code == 201, (response.text, service.tail())
        image = response.json()["image"]
        assert (image["status"], image["model_type"]) == ("completed", "general_x4")
        assert (image["enhanced_width"], image["enhanced_height"]) == (256, 256)
        models = {m["id"]: m["weights"] for m in httpx.get(f"{service.url}/api/models").json()[
            "models"]}
        assert models == {"general_x4": "converted", "general_x2": "missing",
                          "anime": "converted", "anime_video": "converted",
                          "general_v3": "missing"}
        health = httpx.get(f"{service.url}/api/health").json()
        assert health["status"] == "healthy"
        assert health["services"]["models"].startswith("3/5 ready; general_x2: missing")
        asyncio.run(_docs_pages(service.url))
    # A second start does no work: every model is found as it was left.
    converted = sorted(checkout.glob("models/*.pth"))
    before = [p.stat().st_mtime_ns for p in converted]
    again = subprocess.run([".venv/bin/python", "-m", "pipeline.upscale.engine.weights",
                            "prepare"], cwd=checkout, capture_output=True, text=True,
                           timeout=120, env={**os.environ, **OFFLINE_WEIGHTS})
    assert again.returncode == 0, again.stderr
    assert again.stdout.count(", already prepared") == 3, again.stdout
    assert [p.stat().st_mtime_ns for p in converted] == before
    # --skip-models is the script's own option (main.py never sees it) and prepares nothing.
    with served(checkout, _free_port(), "--skip-models", **OFFLINE_WEIGHTS) as service:
        assert "prepared" not in service.log.read_text()
        assert httpx.get(f"{service.url}/api/models").status_code == 200


def test_a_clean_models_folder_converts_on_the_first_requests(tmp_path: Path) -> None:
    """No set-up step at all (``main.py`` alone, an empty ``MODELS_DIR``, no network): the
    first request for each ncnn-shipped model converts it and answers 201; the others, and
    ``face_enhance``, answer 503 naming the commands, and the API says so."""
    with embedded_service(tmp_path, MODELS_DIR=str(tmp_path / "models"), USE_GPU="FALSE",
                          **OFFLINE_WEIGHTS) as service:
        models = _weights_by_model(service.url)
        assert set(models.values()) == {"downloads on first use"}
        for model_type in ("general_x4", "anime", "anime_video"):
            response = first_image(service.url, model_type=model_type, scale=1)
            assert response.status_code == 201, (model_type, response.text, service.log_tails())
        for fields in ({"model_type": "general_v3"}, {"face_enhance": True, "scale": 1}):
            response = first_image(service.url, **fields)
            assert response.status_code == 503, (fields, response.text)
            assert " -m pipeline.upscale.engine.weights fetch " in response.json()["error"]
            assert response.headers["Retry-After"]
        # The worker's report follows within seconds; the two failures may reach it in two
        # successive checks (CHECK_SECONDS apart), so wait for the one that has both.
        deadline = time.monotonic() + 15
        while (_weights_by_model(service.url)["general_v3"], _face_weights(service.url)) != (
                "missing", "missing"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert _weights_by_model(service.url) == {
            "general_x4": "converted", "general_x2": "downloads on first use",
            "anime": "converted", "anime_video": "converted", "general_v3": "missing"}
        info = httpx.get(f"{service.url}/api/info").json()
        assert info["face_enhance"] == {"available": False, "weights": "missing"}


def _face_weights(url: str) -> str:
    return str(httpx.get(f"{url}/api/info").json()["face_enhance"]["weights"])


def _weights_by_model(url: str) -> dict[str, str]:
    models = httpx.get(f"{url}/api/models").json()["models"]
    return {m["id"]: m["weights"] for m in models}
