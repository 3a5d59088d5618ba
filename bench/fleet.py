"""A fixed pool of N upscale workers against the autoscaled one, over a day of arrivals.

The day: a trickle of images (Poisson, ``--images-per-hour``) and a burst of long videos
(``--videos`` of ``--video-minutes`` each, arriving within ``--burst-minutes`` from 14:00).
The model (bench/fleet_model.py) follows deploy/kubernetes/base/autoscaling.yaml's KEDA
settings and the code's flow control (VIDEO_CHUNKS_IN_FLIGHT, the images lane, the SIGTERM
hand-back). Worker speed: ``--fps`` frames per second per worker, or ``--measured``: this
machine's engine time per 4K output frame as bench/intermediate_bytes.py last recorded it
(bench/results/intermediate_bytes.jsonl, its latest anime_video run: the real engine and
weights on this CPU). No GPU has
run in this project: the GPU default, 15 frames/s (general_x4 960×540 → 3840×2160), is the
project's goal (ARCHITECTURE, issue 27), not a measurement; rerun with the figure
scripts/gpu-check.sh measures once it has run. Cold start (``--cold-start-s``: pod scheduled,
image and weights loaded, on a node already up) is an assumption too.

Reproduce:  .venv/bin/python bench/fleet.py [--fixed 4] [--max 8] [--fps 15 | --measured]
The last line is ``fleet fixed_gpu_h=… autoscaled_gpu_h=… image_wait_p95_s=…
first_chunk_p95_s=…`` (the waits of the autoscaled pool; the fixed pool's are printed above).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import RESULTS_DIR, start
from bench._support.fleet_model import Day, Result, Scaling, Workload, p95

GOAL_FPS = 15.0


def measured_fps() -> tuple[float, str]:
    records = RESULTS_DIR / "intermediate_bytes.jsonl"
    if not records.exists():
        raise SystemExit(f"no {records}: run bench/intermediate_bytes.py first")
    runs = [json.loads(line) for line in records.read_text().splitlines()]
    # The fast video model's figure: the one a video chunk is upscaled with by default.
    last = [r for r in runs if r["args"]["model"] == "anime_video"][-1]
    seconds = float(last["samples"]["engine_s_per_frame"])
    size = "x".join(map(str, last["samples"]["output"]))
    return 1 / seconds, (f"measured: {seconds:.2f} s per {size} frame, {last['args']['model']}"
                         f" on {last['machine']['cpu']} ({last['utc']}, commit "
                         f"{last['commit'][:8]})")


def describe(name: str, result: Result) -> str:
    return (f"{name:10s} worker-hours {result.gpu_seconds / 3600:7.2f}; image wait p95 "
            f"{p95(result.image_waits):8.1f} s; first chunk p95 "
            f"{p95(result.first_chunk_waits):8.1f} s; last video done at "
            f"{result.finished_s / 3600:5.2f} h; work redone {result.redone_s / 3600:5.2f} h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixed", type=int, default=4, help="workers of the fixed pool")
    parser.add_argument("--max", type=int, default=8, help="autoscaled pool's maximum")
    parser.add_argument("--min", type=int, default=0, help="autoscaled pool's minimum")
    parser.add_argument("--fps", type=float, default=GOAL_FPS)
    parser.add_argument("--measured", action="store_true")
    parser.add_argument("--images-per-hour", type=float, default=30)
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--video-minutes", type=float, default=10)
    parser.add_argument("--burst-minutes", type=float, default=30)
    parser.add_argument("--cold-start-s", type=float, default=90)
    args = parser.parse_args()
    run = start("fleet", args)
    fps, source = measured_fps() if args.measured else (
        args.fps, "the GPU goal, not a measurement" if args.fps == GOAL_FPS else "given")
    load = Workload(images_per_hour=args.images_per_hour, videos=args.videos,
                    video_seconds=args.video_minutes * 60, video_fps=24, burst_at_s=14 * 3600,
                    burst_span_s=args.burst_minutes * 60, chunk_seconds=2.0,
                    decode_chunk_s=0.5)
    image_s = 1 / fps  # an image the size of one output frame
    in_flight = 8  # deploy/kubernetes/base/config.yaml's VIDEO_CHUNKS_IN_FLIGHT
    print(f"worker speed {fps:.3f} frames/s ({source}); a 2 s chunk of 24 fps video "
          f"{48 / fps:.1f} s; {args.videos} videos of {args.video_minutes:g} min from 14:00, "
          f"{args.images_per_hour:g} images/h; cold start {args.cold_start_s:g} s (assumed)")
    fixed = Day(load, fps, image_s, in_flight, None, fixed=args.fixed).run()
    scaling = Scaling(min_pods=args.min, max_pods=args.max, cold_start_s=args.cold_start_s)
    scaled = Day(load, fps, image_s, in_flight, scaling).run()
    print(describe(f"fixed {args.fixed}", fixed))
    print(describe(f"auto {args.min}-{args.max}", scaled))
    print(f"fleet_fixed image_wait_p95_s={p95(fixed.image_waits):.1f} "
          f"first_chunk_p95_s={p95(fixed.first_chunk_waits):.1f}")
    summary = (f"fleet fixed_gpu_h={fixed.gpu_seconds / 3600:.2f} "
               f"autoscaled_gpu_h={scaled.gpu_seconds / 3600:.2f} "
               f"image_wait_p95_s={p95(scaled.image_waits):.1f} "
               f"first_chunk_p95_s={p95(scaled.first_chunk_waits):.1f}")
    print(summary)
    flags = " --measured" if args.measured else f" --fps {args.fps:g}"
    print(f"reproduce: .venv/bin/python bench/fleet.py --fixed {args.fixed} --max {args.max} "
          f"--min {args.min}{flags} --images-per-hour {args.images_per_hour:g} --videos "
          f"{args.videos} --video-minutes {args.video_minutes:g} --burst-minutes "
          f"{args.burst_minutes:g} --cold-start-s {args.cold_start_s:g}")
    samples = {name: {"gpu_s": r.gpu_seconds, "image_waits": r.image_waits,
                      "first_chunk_waits": r.first_chunk_waits, "redone_s": r.redone_s,
                      "finished_s": r.finished_s} for name, r in (("fixed", fixed),
                                                                 ("autoscaled", scaled))}
    run.finish(samples, summary, fps=fps, fps_source=source)


if __name__ == "__main__":
    main()
