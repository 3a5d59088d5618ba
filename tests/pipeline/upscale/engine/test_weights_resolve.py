"""The resolution order on real parts: real ncnn files converted, real processes, real HTTP.

The network is "unreachable" the way an offline machine sees it: the download base URL points
at a closed local port, so every download is attempted (the real code path) and refused at once.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from common.errors import ModelUnavailable
from common.model_status import RETRY_SECONDS, Weights
from common.models import MODELS
from pipeline.upscale.engine import weights
from pipeline.upscale.engine.archs import load_weights
from pipeline.upscale.engine.networks import network_for
from tests.image_models import MISSING_MODEL, OFFLINE_WEIGHTS, REAL_MODELS

ROOT = Path(__file__).resolve().parents[4]
OFFLINE = OFFLINE_WEIGHTS["WEIGHTS_BASE_URL"]


@pytest.fixture(autouse=True)
def _fresh_host_memory() -> Iterator[None]:
    # Each test starts as a new process would: no host remembered as unreachable.
    weights.forget_unreachable()
    yield
    weights.forget_unreachable()


def _loads(model_type: str, path: Path) -> None:
    state = torch.load(path, map_location="cpu", weights_only=True)
    load_weights(network_for(MODELS[model_type]).build(), state)  # strict


def test_offline_the_ncnn_models_convert_and_the_others_explain(tmp_path: Path) -> None:
    for model_type in REAL_MODELS:
        spec = MODELS[model_type]
        path = weights.obtain(spec.weights_file, tmp_path, base_url=OFFLINE)
        assert path.name == weights.official(spec.weights_file).converted_name()
        _loads(model_type, path)
        assert weights.state_of(spec.weights_file, tmp_path).weights == Weights.CONVERTED
    for model_type in (MISSING_MODEL, "general_v3"):
        filename = MODELS[model_type].weights_file
        with pytest.raises(ModelUnavailable) as info:
            weights.obtain(filename, tmp_path, base_url=OFFLINE)
        message = str(info.value)
        assert info.value.retry_after == RETRY_SECONDS
        command = ".venv/bin/python -m pipeline.upscale.engine.weights"
        # No folder: the message reaches users, who never see the worker's paths; the
        # commands read MODELS_DIR where the worker runs (the next test runs them).
        assert f"{command} fetch {model_type} (necesita" in message
        assert f"{command} import {model_type} ./{filename}. Motivo" in message
        assert str(tmp_path) not in message
        assert OFFLINE in message
        state = weights.state_of(filename, tmp_path)
        assert state.weights == Weights.MISSING and state.message == message
        assert state.retry_at is not None
        assert not list(tmp_path.glob(weights.official(filename).stem + "*.pth"))
    face = weights.state_of(weights.FACE_WEIGHTS, tmp_path)
    assert face.weights == Weights.ON_FIRST_USE  # never asked for yet


def test_the_commands_in_the_message_work_as_written(tmp_path: Path) -> None:
    """The import command from the 503 message, run from the repository root with the
    worker's MODELS_DIR, brings the model back (with a file of the right shape, as a user's
    download elsewhere would be)."""
    models = tmp_path / "models"
    with pytest.raises(ModelUnavailable) as info:
        weights.obtain(MODELS["general_v3"].weights_file, models, base_url=OFFLINE)
    found = re.search(r"con: (\S+ -m \S+ import general_v3 \S+?)\. Motivo", str(info.value))
    assert found, str(info.value)
    command = found.group(1)
    assert command.startswith(".venv/bin/python ")
    net = network_for(MODELS["general_v3"]).build()
    downloaded = tmp_path / "realesr-general-x4v3.pth"
    torch.save({"params_ema": net.state_dict()}, downloaded)
    # Where the user put their copy, and --unofficial since these are not the release's bytes.
    command = command.replace("./realesr-general-x4v3.pth", f"{downloaded} --unofficial")
    # Where the worker runs: its MODELS_DIR is in the environment (or its .env).
    done = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MODELS_DIR": str(models)})
    assert done.returncode == 0, done.stderr
    assert weights.state_of("realesr-general-x4v3.pth", models).weights == Weights.IMPORTED


def test_a_bad_official_file_is_refused_and_replaced(tmp_path: Path) -> None:
    wf = weights.official(MODELS["anime_video"].weights_file)
    bad = tmp_path / wf.filename
    bad.write_bytes(os.urandom(wf.size))  # the right size, the wrong hash
    assert weights.state_of(wf.filename, tmp_path).weights == Weights.ON_FIRST_USE
    path = weights.obtain(wf.filename, tmp_path, base_url=OFFLINE)
    assert path.name == wf.converted_name()
    assert not bad.exists(), "the file that failed verification is gone"
    _loads("anime_video", path)


def test_a_truncated_converted_file_is_refused_and_converted_again(tmp_path: Path) -> None:
    spec = MODELS["anime_video"]
    path = weights.obtain(spec.weights_file, tmp_path, base_url=OFFLINE)
    first = torch.load(path, map_location="cpu", weights_only=True)["params_ema"]
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    assert weights.state_of(spec.weights_file, tmp_path).weights == Weights.ON_FIRST_USE
    again = weights.obtain(spec.weights_file, tmp_path, base_url=OFFLINE)
    assert again == path and path.stat().st_size == len(whole)
    second = torch.load(path, map_location="cpu", weights_only=True)["params_ema"]
    assert all(torch.equal(first[key], second[key]) for key in first)


PAYLOAD = os.urandom(300_000)


class _Release(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_truncated_official_file_is_replaced_by_the_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin = weights.WeightFile("pinned.pth", "o", "r", "v1", len(PAYLOAD),
                             hashlib.sha256(PAYLOAD).hexdigest())
    monkeypatch.setitem(weights.OFFICIAL, pin.filename, pin)  # a pin this test can serve
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Release)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        (tmp_path / pin.filename).write_bytes(PAYLOAD[:1000])  # an interrupted copy
        path = weights.obtain(pin.filename, tmp_path,
                              base_url=f"http://127.0.0.1:{httpd.server_address[1]}")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert path == tmp_path / pin.filename and path.read_bytes() == PAYLOAD
    assert weights.state_of(pin.filename, tmp_path).weights == Weights.OFFICIAL


_RACER = """
import logging, sys, time
from pathlib import Path
from pipeline.upscale.engine import weights
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
print(weights.obtain("RealESRGAN_x4plus.pth", Path(sys.argv[1]), base_url=sys.argv[3]))
"""


def test_two_processes_asking_at_once_convert_once(tmp_path: Path) -> None:
    models, go = tmp_path / "models", tmp_path / "go"
    racers = [subprocess.Popen([sys.executable, "-c", _RACER, str(models), str(go), OFFLINE],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for _ in range(2)]
    time.sleep(3)  # both have imported what they need and are waiting for the signal
    go.touch()
    results = [racer.communicate(timeout=180) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], results
    paths = {out.strip() for out, _ in results}
    assert paths == {str(models / "RealESRGAN_x4plus.ncnn.pth")}
    logs = "".join(err for _, err in results)
    assert logs.count("converted from the ncnn release") == 1, logs
    assert logs.count("downloading RealESRGAN_x4plus.pth") == 1, "the loser found the file"
    _loads("general_x4", models / "RealESRGAN_x4plus.ncnn.pth")
    assert not list(models.glob("*.part")), "no temporary file is left"
