"""Tiling is invisible: tiled vs untiled ≥ 50 dB, on the host-side tile loop."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from common.models import MODELS
from pipeline.cancellation import StopToken, WorkCancelled
from pipeline.upscale.engine.archs import RRDBNet
from pipeline.upscale.engine.device import select_runtime
from pipeline.upscale.engine.engine import Enhancer
from pipeline.upscale.engine.tiling import auto_tile_size, pad_to_multiple, upscale_tensor
from tests.pipeline.upscale.engine.conftest import psnr


def _native(enhancer: Enhancer, model_type: str, rgb: np.ndarray) -> np.ndarray:
    batch = (rgb.astype(np.float32) / 255.0)[None]
    out = enhancer.upscale_native(batch, MODELS[model_type])[0]
    return np.rint(out * 255.0)


# RRDBNet's receptive field is far wider than a 10 px pad, so the seam error per seam pixel is
# set by the pad and the PSNR by how many pixels lie near a seam. With production tiles (512)
# that share is ~10× smaller than on these CPU-sized crops, so the crops use a wider pad for the
# same proportion (measured: x4plus 96², tile 48: pad 10 → 48 dB, pad 24 → 53 dB).
@pytest.mark.parametrize(("model_type", "size", "tile", "pad"), [("general_x4", 96, 48, 24),
                                                                 ("anime", 128, 64, 24),
                                                                 ("anime_video", 128, 32, 10)])
def test_tiled_equals_untiled(
    models_dir: Path, fp32_enhancer: Enhancer, model_type: str, size: int, tile: int, pad: int,
) -> None:
    rgb = np.ascontiguousarray(data.astronaut()[100 : 100 + size, 150 : 150 + size])
    tiled = Enhancer(use_gpu=False, precision="fp32", tile_size=tile, tile_pad=pad,
                     models_dir=models_dir, auto_fetch=False)
    value = psnr(_native(tiled, model_type, rgb), _native(fp32_enhancer, model_type, rgb))
    print(f"{model_type} {size}px tile={tile} pad={pad}: tiled vs untiled {value:.1f} dB")
    assert value >= 50.0, f"{model_type}: tiled vs untiled {value:.1f} dB"


def test_x2_tiles_stay_on_the_unshuffle_grid() -> None:
    """Odd sizes, odd tile and pad: the ×2 RRDBNet still gets even tiles and seamless output."""
    torch.manual_seed(0)
    net = RRDBNet(scale=2, num_block=2).eval()  # the ×2 unshuffle path; depth is irrelevant
    runtime = select_runtime(use_gpu=False, precision="fp32", channels_last=False)
    torch.manual_seed(1)
    img = torch.rand(1, 3, 37, 29)
    whole = upscale_tensor(net, img, scale=2, runtime=runtime, tile_size=0, multiple=2)
    tiled = upscale_tensor(net, img, scale=2, runtime=runtime, tile_size=15, tile_pad=5,
                           multiple=2)
    assert whole.shape == tiled.shape == (1, 3, 74, 58)
    assert psnr(tiled.numpy(), whole.numpy(), peak=1.0) >= 50.0


def test_pad_to_multiple_reflects_and_tiny_images_replicate() -> None:
    img = torch.arange(6.0).reshape(1, 1, 2, 3)
    padded = pad_to_multiple(img, 2)
    assert padded.shape == (1, 1, 2, 4)
    assert padded[0, 0, 0, 3] == img[0, 0, 0, 1]  # reflect, not edge copy
    assert pad_to_multiple(torch.ones(1, 1, 1, 1), 4).shape == (1, 1, 4, 4)


def test_auto_tile_size_is_bounded_on_cpu() -> None:
    runtime = select_runtime(use_gpu=False, precision="fp32")
    for arch in ("rrdbnet", "srvggnet"):
        size = auto_tile_size(arch, runtime)
        assert 32 <= size <= 512 and size % 32 == 0


def test_auto_tile_through_the_enhancer(models_dir: Path, photos: dict[str, np.ndarray]) -> None:
    enhancer = Enhancer(use_gpu=False, precision="fp32", tile_size="auto", models_dir=models_dir,
                        auto_fetch=False)
    out = enhancer.upscale_native((photos["chelsea"][None] / 255.0).astype(np.float32),
                                  MODELS["anime_video"])
    assert out.shape == (1, 256, 256, 3)


def test_a_stopped_token_ends_the_tile_loop_at_the_next_tile() -> None:
    """The worker-side deadline reaches inside the engine: work past it stops within a tile
    instead of running on (and holding the engine thread) after its message was given up."""
    torch.manual_seed(0)
    net = RRDBNet(scale=2, num_block=1).eval()
    runtime = select_runtime(use_gpu=False, precision="fp32", channels_last=False)
    token = StopToken()
    tiles: list[tuple[int, ...]] = []

    def count_and_stop(_module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        tiles.append(tuple(args[0].shape))
        token.stop()  # as the event loop does when the runner's deadline passes

    net.register_forward_pre_hook(count_and_stop)
    with pytest.raises(WorkCancelled):
        upscale_tensor(net, torch.rand(1, 3, 64, 64), scale=2, runtime=runtime, tile_size=16,
                       tile_pad=2, multiple=2, stop=token)
    assert len(tiles) == 1  # of 16


def test_an_expired_deadline_stops_before_any_tile() -> None:
    net = RRDBNet(scale=2, num_block=1).eval()
    runtime = select_runtime(use_gpu=False, precision="fp32", channels_last=False)
    with pytest.raises(WorkCancelled, match="tiempo máximo"):
        upscale_tensor(net, torch.rand(1, 3, 32, 32), scale=2, runtime=runtime, tile_size=16,
                       multiple=2, stop=StopToken(deadline=time.monotonic() - 1))
