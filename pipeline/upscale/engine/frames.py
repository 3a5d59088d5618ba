"""The video frames path of the :class:`~pipeline.upscale.engine.engine.Enhancer`.

Frames come as N×H×W×3 uint8. When the output is the native size divided by an integer that
divides the model's scale, they stay bytes up to the device and come back as final uint8
pixels (the feeder's shrink and quantisation); otherwise they go ``batch_size`` at a time
through the engine's float path (Lanczos, GFPGAN on the host), as images do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from common.errors import InvalidInput
from common.models import DEFAULT_MODEL, ModelSpec, get_model
from pipeline.cancellation import StopToken
from pipeline.upscale.engine.feeder import Finish
from pipeline.upscale.engine.imageio import quantize, resize_to
from pipeline.upscale.engine.tiling import upscale_rows

if TYPE_CHECKING:
    from pipeline.upscale.engine.engine import Enhancer


def enhance_frames(engine: Enhancer, frames: np.ndarray | Sequence[np.ndarray], *,
                   model_type: str = DEFAULT_MODEL, scale: int | None = None,
                   face_enhance: bool = False, output_width: int | None = None,
                   output_height: int | None = None, stop: StopToken | None = None,
                   ) -> np.ndarray:
    """Enhance N video frames of one size (N×H×W×3 uint8 RGB) → N×H'×W'×3 uint8.

    When the output is the native size divided by an integer that divides the model's
    scale (×4 → ×4, ×2, ×1; ×2 → ×2, ×1) and no faces are restored, the frames travel as
    bytes, every crop of every frame is batched, and the result is shrunk and quantised
    on the device (:func:`device_shrink`): only final uint8 pixels come back. Otherwise
    frames go ``batch_size`` at a time through the float path (Lanczos, GFPGAN on host).
    """
    stack = np.asarray(frames) if not isinstance(frames, np.ndarray) else frames
    if stack.ndim != 4 or stack.shape[3] != 3 or stack.dtype != np.uint8:
        raise InvalidInput("frames must be N×H×W×3 uint8 RGB, all of one size")
    spec = get_model(model_type)
    scale = engine.scale_for(spec, scale)
    in_h, in_w = stack.shape[1:3]
    width, height = engine.plan(in_w, in_h, spec, scale=scale, output_width=output_width,
                                output_height=output_height)
    engine.models_for(spec, face_enhance)
    shrink = None if face_enhance else device_shrink(spec.native_scale, in_w, in_h,
                                                     width, height)
    if shrink is not None:
        return frames_via_device(engine, stack, spec, shrink, stop)
    return frames_via_host(engine, stack, spec, width, height, face_enhance, stop)


def frames_via_device(engine: Enhancer, stack: np.ndarray, spec: ModelSpec, shrink: int,
                      stop: StopToken | None) -> np.ndarray:
    """Bytes in, every crop batched, shrunk and quantised on the device."""
    count, in_h, in_w = stack.shape[:3]
    out_scale = spec.native_scale // shrink
    out = np.empty((count, in_h * out_scale, in_w * out_scale, 3), dtype=np.uint8)
    target = torch.from_numpy(out).permute(0, 3, 1, 2)

    def keep(y: int, rows: torch.Tensor) -> None:
        target[:, :, y : y + rows.shape[2]] = rows

    net, options = engine.tiling(spec)
    upscale_rows(net, torch.from_numpy(stack).permute(0, 3, 1, 2), keep, stop=stop,
                 finish=Finish(shrink=shrink, quantize=True), **options)
    return out


def frames_via_host(engine: Enhancer, stack: np.ndarray, spec: ModelSpec, width: int,
                    height: int, face_enhance: bool, stop: StopToken | None) -> np.ndarray:
    """The float path, ``batch_size`` frames at a time (Lanczos, GFPGAN on the host)."""
    count = stack.shape[0]
    out = np.empty((count, height, width, 3), dtype=np.uint8)
    for start in range(0, count, engine.batch_size):
        chunk = stack[start : start + engine.batch_size].astype(np.float32) / 255.0
        native = engine.upscale_native(chunk, spec, stop)
        for offset, frame in enumerate(native):
            if face_enhance:
                if stop is not None:
                    stop.check()
                frame = engine.restore_faces(chunk[offset], frame)
            resized = resize_to(frame, width, height)
            out[start + offset] = quantize(resized, 8)
    return out


def device_shrink(native_scale: int, in_w: int, in_h: int, width: int,
                  height: int) -> int | None:
    """The integer factor the native result shrinks by to ``width``×``height`` when that
    factor divides the model's scale (so every tile's output maps to whole output pixels and
    a box average is exactly the area resize), else None."""
    for factor in range(1, native_scale + 1):
        if (native_scale % factor == 0 and in_w * native_scale == width * factor
                and in_h * native_scale == height * factor):
            return factor
    return None
