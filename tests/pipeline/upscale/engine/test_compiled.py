"""TORCH_COMPILE and CUDA_GRAPHS: settings, the compile cache folder, and the same pixels.

``torch.compile`` really compiles here (Inductor's C++ backend on the CPU): the compiled
network gives the eager network's pixels through the engine's own video path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from common.errors import ConfigError
from common.models import MODELS
from common.settings import load_settings
from pipeline.upscale.engine.compiled import GraphedNetwork, accelerate, compile_network
from pipeline.upscale.engine.engine import Enhancer


def test_settings_read_the_compile_mode_and_cuda_graphs() -> None:
    settings = load_settings(torch_compile=" Max-Autotune ", cuda_graphs="TRUE")
    assert (settings.torch_compile, settings.cuda_graphs) == ("max-autotune", True)
    assert (load_settings().torch_compile, load_settings().cuda_graphs) == ("off", False)
    with pytest.raises(ConfigError, match="TORCH_COMPILE"):
        load_settings(torch_compile="fast")
    enhancer = Enhancer.from_settings(load_settings(use_gpu=False, torch_compile="default",
                                                    cuda_graphs=True))
    assert (enhancer.compile_mode, enhancer.cuda_graphs) == ("default", True)


def test_off_is_the_network_itself_and_cuda_graphs_need_cuda(tmp_path: Path) -> None:
    net = torch.nn.Conv2d(3, 3, 3)
    assert compile_network(net, "off", tmp_path) is net
    assert not (tmp_path / "torch-compile").exists()
    with pytest.raises(ValueError, match="TORCH_COMPILE"):
        compile_network(net, "fastest", tmp_path)
    cpu = accelerate(net, device=torch.device("cpu"), compile_mode="off", cuda_graphs=True,
                     models_dir=tmp_path)
    assert cpu is net  # graphs are a CUDA feature: ignored here
    graphed = GraphedNetwork(net)
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(graphed(x), net(x))  # a CPU tensor runs eagerly
    assert graphed.out_channels == 3  # attributes reach the wrapped network


# Inductor's CPU backend imports torch's own mkldnn helpers, which use a torch.jit API that
# torch itself deprecates: torch's warning about torch, nothing this code calls.
@pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning:torch.jit._script")
def test_compiled_network_gives_the_eager_pixels(models_dir: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """anime_video at fp32, compiled with mode "default", through ``enhance_frames`` (the
    video path: batched crops, device-side finishing) against the same engine uncompiled.
    Inductor may fuse the PReLU differently: at most one level apart, on few pixels."""
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    compiled_dir = tmp_path / "models"
    compiled_dir.mkdir()
    for converted in models_dir.glob("realesr-animevideov3*"):  # the weights and their record
        (compiled_dir / converted.name).write_bytes(converted.read_bytes())
    frames = np.stack([data.astronaut()[100:132, 180:228], data.coffee()[150:182, 250:298]])
    common = {"use_gpu": False, "precision": "fp32", "tile_size": 0, "auto_fetch": False}
    eager = Enhancer(models_dir=models_dir, **common)
    compiled = Enhancer(models_dir=compiled_dir, compile_mode="default", **common)
    expected = eager.enhance_frames(frames, model_type="anime_video", scale=2)
    got = compiled.enhance_frames(frames, model_type="anime_video", scale=2)
    assert isinstance(compiled.load_model(MODELS["anime_video"]),
                      torch._dynamo.eval_frame.OptimizedModule)
    assert (compiled_dir / "torch-compile" / "inductor").is_dir()  # the cache went there
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert got.shape == (2, 64, 96, 3)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
