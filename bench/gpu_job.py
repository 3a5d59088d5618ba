"""One real video job end to end through the embedded service (run by gpu-check.sh).

``python main.py`` with its own data folder (SecantusDB, in-process bus, every stage), USE_GPU
as given: sign up, one image (``gpu_used`` checked), then the clip with ``anime_video`` ×2,
timed from the upload to ``completed``. Reported: the job's frames/s, the upscale worker's
own frames/s per chunk and how long it waited for its FFV1 writer (from its log), the upscale
worker's GPU memory peak (``enhancer_gpu_memory_peak_bytes`` from ``/metrics``), and
``/api/health``'s ``gpu`` field.

Reproduce:  python bench/gpu_job.py --clip .gpu/clip-1080p.mkv --models-dir .gpu/models
            [--use-gpu TRUE] [--json out.json]
The last line is ``gpu-job frames=<n> job_fps=<x> upscale_fps=<y> gpu_used=<bool>``.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import start
from bench._support.service import embedded_service

_CHUNK_LINE = re.compile(r"chunk (\d+): (\d+) frames \((\d+) reused\) upscaled in ([\d.]+) s "
                         r"\(([\d.]+) fps\).*waited for the writer (\d+) ms")


def sign_in(http: httpx.Client) -> dict[str, str]:
    account = {"username": "bench", "email": "bench@ejemplo.com", "password": "clave-bench-1"}
    http.post("/api/auth/register", json=account).raise_for_status()
    login = http.post("/api/auth/login", json={"email": account["email"],
                                               "password": account["password"]})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}


def wait_health_gpu(http: httpx.Client, seconds: float = 60) -> str:
    """``services.gpu`` once the upscale worker has reported (its first heartbeat)."""
    deadline = time.monotonic() + seconds
    while True:
        gpu: str = http.get("/api/health").json()["services"]["gpu"]
        if not gpu.startswith("unknown") or time.monotonic() > deadline:
            return gpu
        time.sleep(0.5)


def one_image(http: httpx.Client, headers: dict[str, str], model: str) -> dict[str, Any]:
    png = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(png, "PNG")
    response = http.post("/api/images/enhance", headers=headers, json={
        "image_base64": base64.b64encode(png.getvalue()).decode(), "model_type": model,
        "scale": 2})
    response.raise_for_status()
    image: dict[str, Any] = response.json()["image"]
    return {"gpu_used": image["gpu_used"], "processing_time_ms": image["processing_time_ms"]}


def one_video(http: httpx.Client, headers: dict[str, str], clip: Path, model: str, scale: int,
              within: float) -> dict[str, Any]:
    started = time.perf_counter()
    response = http.post("/api/videos/enhance", headers=headers, json={
        "video_base64": base64.b64encode(clip.read_bytes()).decode(), "filename": clip.name,
        "model_type": model, "scale": scale})
    response.raise_for_status()
    video_id = response.json()["video"]["id"]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        video = http.get(f"/api/videos/{video_id}", headers=headers,
                         params={"include_base64": "false"}).json()["video"]
        if video["status"] in ("completed", "error"):
            break
        time.sleep(0.25)
    seconds = time.perf_counter() - started
    return {"status": video["status"], "error": video.get("error_message"),
            "frames": video["frames_processed"], "seconds": round(seconds, 2),
            "job_fps": round(video["frames_processed"] / seconds, 2),
            "gpu_used": video["gpu_used"], "processing_time_ms": video["processing_time_ms"]}


def gpu_peak(http: httpx.Client) -> int | None:
    text = http.get("/metrics").text
    peaks = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
             if line.startswith("enhancer_gpu_memory_peak_bytes{")]
    return int(max(peaks)) if peaks else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--model", default="anime_video")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--use-gpu", default="TRUE")
    parser.add_argument("--batch-frames", default="8", help="VIDEO_BATCH_FRAMES")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--log-tail", type=Path, default=None, help="the service log's end")
    args = parser.parse_args()
    run = start("gpu_job", args)
    with tempfile.TemporaryDirectory(prefix="gpu-job-") as tmp:
        env = {"USE_GPU": args.use_gpu, "MODELS_DIR": str(args.models_dir.resolve()),
               "VIDEO_BATCH_FRAMES": args.batch_frames, "LOG_LEVEL": "INFO"}
        with embedded_service(Path(tmp), **env) as service, \
                httpx.Client(base_url=service.url, timeout=300) as http:
            gpu = wait_health_gpu(http)
            headers = sign_in(http)
            image = one_image(http, headers, args.model)
            video = one_video(http, headers, args.clip, args.model, args.scale, args.timeout)
            peak = gpu_peak(http)
            log = service.log.read_text(errors="replace")
        chunks = [{"chunk": int(m[1]), "frames": int(m[2]), "reused": int(m[3]),
                   "seconds": float(m[4]), "fps": float(m[5]), "writer_wait_ms": int(m[6])}
                  for m in _CHUNK_LINE.finditer(log)]
    upscaled = sum(c["frames"] for c in chunks)
    upscale_fps = upscaled / sum(c["seconds"] for c in chunks) if chunks else 0.0
    report: dict[str, Any] = {"clip": args.clip.name, "model": args.model, "scale": args.scale,
              "use_gpu": args.use_gpu, "health_gpu": gpu, "image": image, "video": video,
              "upscale_fps": round(upscale_fps, 2), "chunks": chunks,
              "writer_wait_ms_total": sum(c["writer_wait_ms"] for c in chunks),
              "gpu_memory_peak_bytes": peak}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text)
    if args.log_tail is not None:
        args.log_tail.write_text(log[-20000:])
    print(f"reproduce: python bench/gpu_job.py --clip {args.clip} --models-dir {args.models_dir} "
          f"--use-gpu {args.use_gpu} --batch-frames {args.batch_frames}")
    summary = (f"gpu-job frames={video['frames']} job_fps={video['job_fps']} "
               f"upscale_fps={upscale_fps:.2f} gpu_used={video['gpu_used']}")
    print(summary)
    run.finish(report, summary)
    return 0 if video["status"] == "completed" else 1


if __name__ == "__main__":
    raise SystemExit(main())
