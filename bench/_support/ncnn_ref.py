"""The ``ncnn`` runtime on the Real-ESRGAN ncnn files: an independent implementation of the
same networks, the reference of the parity tests and of the API-vs-ncnn bench.

Real-ESRGAN's ncnn program feeds RGB scaled to 0..1 (``norm_vals = 1/255``, no mean) and
multiplies the output by 255, which is what ``ncnn_upscale`` does. ncnn's fp16 storage and
arithmetic are switched off so the reference runs in fp32.
"""

from __future__ import annotations

from typing import Any

import ncnn
import numpy as np

from common.models import MODELS
from pipeline.upscale.engine.ncnn_convert import ncnn_files


def ncnn_net(model_type: str, threads: int = 2) -> Any:
    """The loaded network (fp32, CPU, ``threads`` threads), reusable across calls."""
    param, weights = ncnn_files(MODELS[model_type])
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_storage = False
    net.opt.use_fp16_packed = False
    net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    net.opt.num_threads = threads
    net.load_param(str(param))
    net.load_model(str(weights))
    return net


def ncnn_upscale(net: Any, rgb: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 → (H·4)×(W·4)×3 uint8 through ``net``."""
    # ncnn.Mat borrows the array's memory: keep both alive until the extraction is done.
    chw = np.ascontiguousarray(rgb.transpose(2, 0, 1).astype(np.float32) / 255.0)
    mat_in = ncnn.Mat(chw)
    extractor = net.create_extractor()
    extractor.input("data", mat_in)
    _status, mat_out = extractor.extract("output")
    out = np.array(mat_out).copy().transpose(1, 2, 0)
    return np.rint(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)


def ncnn_reference(model_type: str, rgb: np.ndarray) -> np.ndarray:
    """One image through a freshly loaded network (2 threads)."""
    return ncnn_upscale(ncnn_net(model_type), rgb)
