"""GFPGAN v1.4 face restoration on top of a Real-ESRGAN background (GFPGANer.enhance's flow)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from pipeline.upscale.engine.faces.align import crop_face, estimate_affine, paste_face
from pipeline.upscale.engine.faces.detect import Face, FaceDetector, as_rgb
from pipeline.upscale.engine.gfpgan_arch import GFPGANv1Clean

log = logging.getLogger(__name__)


def unwrap_checkpoint(checkpoint: Mapping[str, Any]) -> Mapping[str, torch.Tensor]:
    """The weights inside an official BasicSR checkpoint: `params_ema`, else `params`."""
    for key in ("params_ema", "params"):
        if key in checkpoint:
            return checkpoint[key]
    return checkpoint


def load_gfpgan(state_dict: Mapping[str, Any]) -> GFPGANv1Clean:
    """GFPGANv1Clean (v1.4 config), weights loaded strictly, eval mode, where the tensors are.

    `state_dict` may also be a whole checkpoint ({"params_ema": ..., "params": ...}).
    """
    # Built on the meta device and filled by assignment: no 350 MB of random init to throw away.
    with torch.device("meta"):
        model = GFPGANv1Clean()
    model.load_state_dict(unwrap_checkpoint(state_dict), strict=True, assign=True)
    return model.eval().requires_grad_(False)


class FaceRestorer:
    """Detect faces in the input, restore each with GFPGAN, paste them onto the upscaled image."""

    def __init__(
        self,
        weights_path: Path | None = None,
        *,
        state_dict: Mapping[str, Any] | None = None,
        device: torch.device = torch.device("cpu"),  # noqa: B008 - immutable, the agreed interface
        dtype: torch.dtype = torch.float32,
        detector: FaceDetector | None = None,
    ) -> None:
        if (weights_path is None) == (state_dict is None):
            raise ValueError("give exactly one of weights_path or state_dict")
        if weights_path is not None:
            # weights_only: a .pth is a pickle; never execute code from a downloaded file.
            state_dict = torch.load(weights_path, map_location="cpu", weights_only=True)
        assert state_dict is not None
        self.device = device
        self.dtype = dtype
        self.model = load_gfpgan(state_dict).to(device=device, dtype=dtype)
        self.detector = detector or FaceDetector()

    def detect(self, original_rgb: np.ndarray) -> list[Face]:
        return self.detector.detect(original_rgb)

    @torch.inference_mode()
    def restore_face(self, crop: np.ndarray) -> np.ndarray | None:
        """Aligned 512² RGB uint8 crop -> restored crop; None if the model produced NaN/inf."""
        x = torch.from_numpy(crop).to(self.device).permute(2, 0, 1)[None].float()
        x = (x / 127.5 - 1.0).to(self.dtype)  # mean 0.5, std 0.5 on [0, 1]
        # Fixed noise (the stored buffers) so that a frame restores the same way every time.
        out = self.model(x, randomize_noise=False)[0].float()
        if not torch.isfinite(out).all():
            return None
        out = (out.clamp(-1.0, 1.0) + 1.0) * 127.5
        return out.round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()

    def restore(self, original_rgb: np.ndarray, background_rgb: np.ndarray) -> np.ndarray:
        """Restored faces of `original_rgb` pasted onto `background_rgb`, its upscaled version.

        original: (H, W[, 1|3|4]) uint8; background: (H', W'[, 1|3|4]) uint8, any H', W'.
        Returns a new array shaped like the background; untouched outside the faces.
        """
        if original_rgb.dtype != np.uint8 or background_rgb.dtype != np.uint8:
            raise TypeError("restore expects uint8 images")
        rgb = as_rgb(original_rgb)
        h, w = rgb.shape[:2]
        out = background_rgb.copy()
        canvas = out[..., None] if out.ndim == 2 else out  # a view: pasting writes into `out`
        if h == 0 or w == 0 or canvas.shape[2] not in (1, 3, 4):
            raise ValueError(f"bad shapes {original_rgb.shape} -> {background_rgb.shape}")
        scale_x, scale_y = canvas.shape[1] / w, canvas.shape[0] / h
        for face in self.detect(rgb):
            try:
                affine = estimate_affine(face.landmarks)
            except ValueError:
                continue
            restored = self.restore_face(crop_face(rgb, affine))
            if restored is None:
                log.warning("GFPGAN produced non-finite values; face at %s left as is", face.box)
                continue
            if canvas.shape[2] == 1:
                restored = cv2.cvtColor(restored, cv2.COLOR_RGB2GRAY)
            paste_face(canvas, restored, affine, scale_x, scale_y)
        return out
