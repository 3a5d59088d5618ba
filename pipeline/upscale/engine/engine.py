"""The ``Enhancer``: the library the upscale stage calls for images and video frames.

Each network runs at its native scale; the result (faces restored at that scale when asked) is
then resized with Lanczos (area when shrinking) to the size the manual's rules give, so every
model accepts scale 1–4 and ``output_width``/``output_height``. Models load once per process
(thread-safe cache); weights resolve through ``weights.obtain`` (a verified file on disk, else,
when ``auto_fetch``, the official download or a conversion of the installed ncnn release).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from common.metrics import MODEL_LOAD_SECONDS
from common.models import DEFAULT_MODEL, ModelSpec, get_model
from common.sizing import MAX_SCALE, check_output_format, planned_size, validate_scale
from pipeline.cancellation import StopToken
from pipeline.upscale.engine import weights
from pipeline.upscale.engine.archs import load_weights
from pipeline.upscale.engine.compiled import CompileMode, accelerate
from pipeline.upscale.engine.device import Precision, Runtime, select_runtime
from pipeline.upscale.engine.frames import enhance_frames
from pipeline.upscale.engine.imageio import (
    decode_image,
    encode_image,
    quantize,
    resize_to,
    to_gray,
)
from pipeline.upscale.engine.networks import network_for
from pipeline.upscale.engine.tiling import upscale_rows, upscale_tensor

if TYPE_CHECKING:
    from common.settings import Settings


@dataclass(frozen=True)
class EnhanceResult:
    data: bytes
    width: int
    height: int
    original_width: int
    original_height: int
    format: str
    model_type: str
    scale: int
    face_enhance: bool
    gpu_used: bool
    precision: str
    elapsed_ms: int


class Enhancer:
    """Real-ESRGAN (+ GFPGAN) on one device; safe to share between threads."""

    def __init__(self, *, use_gpu: bool = True, device: str | torch.device | None = None,
                 precision: Precision = "auto", tile_size: int | Literal["auto"] = 512,
                 tile_pad: int = 10,
                 models_dir: Path | str = Path("models"), auto_fetch: bool = True,
                 weights_base_url: str | None = None,
                 batch_size: int = 4, channels_last: bool = True,
                 compile_mode: CompileMode | str = "off", cuda_graphs: bool = False,
                 alpha_upsampler: str = "model", face_restorer: Any = None,
                 max_input_pixels: int | None = None, max_output_pixels: int | None = None,
                 default_scale: int = MAX_SCALE) -> None:
        if alpha_upsampler not in {"model", "bicubic"}:
            raise ValueError("alpha_upsampler must be 'model' or 'bicubic'")
        self.runtime: Runtime = select_runtime(use_gpu, precision, channels_last, device)
        self.tile_size = tile_size
        self.tile_pad = tile_pad
        self.models_dir = Path(models_dir)
        self.auto_fetch = auto_fetch
        self.weights_base_url = weights_base_url or None
        self.batch_size = max(1, batch_size)
        self.compile_mode = compile_mode
        self.cuda_graphs = cuda_graphs
        self.alpha_upsampler = alpha_upsampler
        self.max_input_pixels = max_input_pixels
        self.max_output_pixels = max_output_pixels
        # DEFAULT_SCALE: a call without ``scale`` gets the model's default, lowered to this.
        self.default_scale = validate_scale(default_scale)
        self._nets: dict[str, nn.Module] = {}
        self._multiples: dict[str, int] = {}  # input granularity of each model (unshuffle)
        self._lock = threading.Lock()
        self._face_restorer = face_restorer

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Enhancer:
        options: dict[str, Any] = {
            "use_gpu": settings.use_gpu, "precision": settings.precision,
            "tile_size": settings.tile_size, "tile_pad": settings.tile_pad,
            "models_dir": settings.models_dir, "max_input_pixels": settings.max_input_pixels,
            "max_output_pixels": settings.max_output_pixels,
            "default_scale": settings.default_scale,
            "weights_base_url": settings.weights_base_url,
            "compile_mode": settings.torch_compile, "cuda_graphs": settings.cuda_graphs,
        }
        options.update(overrides)
        return cls(**options)

    @property
    def gpu_used(self) -> bool:
        return self.runtime.is_cuda

    # -- models ---------------------------------------------------------------------------

    def _prepare(self, net: nn.Module) -> nn.Module:
        net = net.eval().requires_grad_(False).to(self.runtime.device, self.runtime.dtype)
        if self.runtime.channels_last:
            net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return accelerate(net, device=self.runtime.device, compile_mode=self.compile_mode,
                          cuda_graphs=self.cuda_graphs, models_dir=self.models_dir)

    def load_model(self, spec: ModelSpec, state_dict: Mapping[str, Any] | None = None,
                   ) -> nn.Module:
        """The ready network for ``spec`` (loaded on first use, then cached).

        ``state_dict`` installs given weights instead of resolving a file (random weights in
        tests, weights held in memory by a caller).
        """
        with self._lock:
            if state_dict is None and spec.id in self._nets:
                return self._nets[spec.id]
            started = time.perf_counter()
            if state_dict is None:
                path = weights.obtain(spec.weights_file, self.models_dir,
                                      download=self.auto_fetch, convert=self.auto_fetch,
                                      base_url=self.weights_base_url)
                state_dict = torch.load(path, map_location="cpu", weights_only=True)
            plain = load_weights(network_for(spec).build(), state_dict)
            self._multiples[spec.id] = getattr(plain, "unshuffle", 1)
            net = self._prepare(plain)
            MODEL_LOAD_SECONDS.labels(spec.id).observe(time.perf_counter() - started)
            self._nets[spec.id] = net
            return net

    def face_restorer(self) -> Any:
        """The GFPGAN face restorer, built on first use (its module is imported lazily)."""
        with self._lock:
            if self._face_restorer is None:
                from pipeline.upscale.engine.faces import FaceRestorer

                path = weights.obtain(weights.FACE_WEIGHTS, self.models_dir,
                                      download=self.auto_fetch, convert=self.auto_fetch,
                                      base_url=self.weights_base_url)
                self._face_restorer = FaceRestorer(path, device=self.runtime.device,
                                                   dtype=self.runtime.dtype)
            return self._face_restorer

    def models_for(self, spec: ModelSpec, face_enhance: bool) -> None:
        """Load (obtaining the weights if need be) every model a job needs before running any:
        missing GFPGAN weights fail the job before the upscale, not after it."""
        self.load_model(spec)
        if face_enhance:
            self.face_restorer()

    # -- planning ---------------------------------------------------------------------------

    def scale_for(self, spec: ModelSpec, scale: int | None) -> int:
        """The requested scale, validated; without one, the model's default (DEFAULT_SCALE)."""
        return validate_scale(spec.request_default(self.default_scale) if scale is None
                              else scale)

    def plan(self, width: int, height: int, spec: ModelSpec, *, scale: int | None = None,
             output_width: int | None = None, output_height: int | None = None,
             ) -> tuple[int, int]:
        """Final (width, height) for an input, after the pixel-budget checks (413 → TooLarge)."""
        return planned_size(width, height, self.scale_for(spec, scale), output_width,
                            output_height, max_input_pixels=self.max_input_pixels,
                            max_output_pixels=self.max_output_pixels)

    # -- inference --------------------------------------------------------------------------

    def tiling(self, spec: ModelSpec) -> tuple[nn.Module, dict[str, Any]]:
        net = self.load_model(spec)
        arch = network_for(spec).arch
        return net, {
            "scale": spec.native_scale, "runtime": self.runtime, "tile_size": self.tile_size,
            "tile_pad": self.tile_pad, "batch_size": self.batch_size, "arch": arch,
            "multiple": self._multiples.get(spec.id, 1) if arch == "rrdbnet" else 1}

    @staticmethod
    def _tensor(batch: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)

    def upscale_native(self, batch: np.ndarray, spec: ModelSpec,
                       stop: StopToken | None = None) -> np.ndarray:
        """N×H×W×3 float32 (0..1) → N×(H·s)×(W·s)×3 float32 at the model's native scale;
        ``stop`` is checked before every tile (see :mod:`pipeline.cancellation`)."""
        net, options = self.tiling(spec)
        out = upscale_tensor(net, self._tensor(batch), stop=stop, **options)
        return out.permute(0, 2, 3, 1).numpy()

    def upscale_to(self, batch: np.ndarray, spec: ModelSpec, width: int, height: int, *,
                   gray: Sequence[bool] = (), stop: StopToken | None = None,
                   ) -> list[np.ndarray]:
        """N×H×W×3 float32 → each image at ``width``×``height`` (``gray[i]``: as one channel,
        converted at the native scale, before the resize).

        The same result as ``upscale_native`` then ``resize_to``, but when the result is no
        larger than the native one and each band of tiles maps to whole output rows (always
        for a ``scale`` below the model's), every band is shrunk as it comes out of the
        network: memory follows the output and one band of tiles, not the native image
        (a 4000² input at scale 1 on a ×4 model would otherwise hold 16000² floats).
        """
        n, in_h, in_w = batch.shape[:3]
        native_h, native_w = in_h * spec.native_scale, in_w * spec.native_scale
        flat = [i < len(gray) and gray[i] for i in range(n)]

        def finish(image: np.ndarray, i: int, rows: int) -> np.ndarray:
            return resize_to(np.ascontiguousarray(to_gray(image) if flat[i] else image),
                             width, rows)

        # Area shrinking is local: a band of native rows starting on a multiple of q (the
        # ratio's denominator) becomes exactly its share of output rows.
        q = native_h // math.gcd(native_h, height)
        if width > native_w or height > native_h or spec.native_scale % q:
            native = self.upscale_native(batch, spec, stop)
            return [finish(native[i], i, height) for i in range(n)]
        out = [np.empty((height, width) if flat[i] else (height, width, 3), np.float32)
               for i in range(n)]

        def shrink(y: int, rows: torch.Tensor) -> None:
            band = rows.permute(0, 2, 3, 1).numpy()
            top = y * height // native_h
            bottom = (y + band.shape[1]) * height // native_h
            for i in range(n):
                out[i][top:bottom] = finish(band[i], i, bottom - top)

        net, options = self.tiling(spec)
        upscale_rows(net, self._tensor(batch), shrink, stop=stop, **options)
        return out

    def restore_faces(self, original: np.ndarray, background: np.ndarray) -> np.ndarray:
        """GFPGAN on 8-bit copies; the restorer pastes faces onto the upscaled background."""
        restored = self.face_restorer().restore(quantize(original, 8), quantize(background, 8))
        return np.asarray(restored, dtype=np.float32) / 255.0

    def enhance_image(self, source: bytes | Image.Image, *, model_type: str = DEFAULT_MODEL,
                      scale: int | None = None, output_width: int | None = None,
                      output_height: int | None = None, face_enhance: bool = False,
                      output_format: str = "png", stop: StopToken | None = None,
                      ) -> EnhanceResult:
        """Enhance one encoded image (or Pillow image) and encode the result."""
        started = time.perf_counter()
        spec = get_model(model_type)  # resolved once; everything below takes the spec
        scale = self.scale_for(spec, scale)
        image = decode_image(source, max_pixels=self.max_input_pixels)
        width, height = self.plan(image.width, image.height, spec, scale=scale,
                                  output_width=output_width, output_height=output_height)
        check_output_format(width, height, output_format)  # before the model, not after
        self.models_for(spec, face_enhance)
        alpha = image.alpha
        alpha_needs_model = (alpha is not None and self.alpha_upsampler == "model"
                             and float(alpha.min()) != float(alpha.max()))
        batch = [image.rgb]
        if alpha_needs_model:
            assert alpha is not None
            batch.append(np.repeat(alpha[..., None], 3, axis=2))
        if face_enhance:  # GFPGAN pastes faces onto the whole native-scale background
            native = self.upscale_native(np.stack(batch), spec, stop)
            rgb = resize_to(self.restore_faces(image.rgb, native[0]), width, height)
            if alpha_needs_model:
                alpha = resize_to(to_gray(native[1]), width, height)
        else:
            # The alpha plane went through the model as RGB: it comes back as one channel.
            done = self.upscale_to(np.stack(batch), spec, width, height, gray=(False, True),
                                   stop=stop)
            rgb = done[0]
            if alpha_needs_model:
                alpha = done[1]
        if alpha is not None and not alpha_needs_model:
            alpha = self._resize_plain_alpha(alpha, spec.native_scale, width, height)
        data = encode_image(rgb, alpha, gray=image.gray, bit_depth=image.bit_depth,
                            icc_profile=image.icc_profile, output_format=output_format)
        return EnhanceResult(
            data=data, width=width, height=height, original_width=image.width,
            original_height=image.height, format=output_format.lower(), model_type=spec.id,
            scale=scale, face_enhance=face_enhance, gpu_used=self.gpu_used,
            precision=self.runtime.precision,
            elapsed_ms=int((time.perf_counter() - started) * 1000))

    @staticmethod
    def _resize_plain_alpha(alpha: np.ndarray, native_scale: int, width: int,
                            height: int) -> np.ndarray:
        """An alpha plane the model does not see: bicubic to the native size, then the same
        resize as the picture; a constant plane (most alpha channels) stays constant."""
        if float(alpha.min()) == float(alpha.max()):
            return np.full((height, width), float(alpha.flat[0]), np.float32)
        nh, nw = alpha.shape[0] * native_scale, alpha.shape[1] * native_scale
        upscaled = np.clip(cv2.resize(alpha, (nw, nh), interpolation=cv2.INTER_CUBIC), 0, 1)
        return resize_to(np.ascontiguousarray(upscaled), width, height)

    def enhance_frames(self, frames: np.ndarray | Sequence[np.ndarray], *,
                       model_type: str = DEFAULT_MODEL, scale: int | None = None,
                       face_enhance: bool = False, output_width: int | None = None,
                       output_height: int | None = None, stop: StopToken | None = None,
                       ) -> np.ndarray:
        """Enhance N video frames of one size (N×H×W×3 uint8 RGB) → N×H'×W'×3 uint8
        (:func:`pipeline.upscale.engine.frames.enhance_frames`)."""
        return enhance_frames(self, frames, model_type=model_type, scale=scale,
                              face_enhance=face_enhance, output_width=output_width,
                              output_height=output_height, stop=stop)
