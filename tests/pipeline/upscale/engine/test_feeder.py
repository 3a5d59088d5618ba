"""The feeder's batching, padding and device-side finishing change no pixel (CPU, real weights).

On the CPU the feeder runs the same code as on CUDA minus the streams and pinned buffers:
crops of one shape batched across tiles and frames, the batch padded to a power of two, uint8
frames in, box shrink and quantisation before the copy back.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from common.models import MODELS
from pipeline.upscale.engine.device import select_runtime
from pipeline.upscale.engine.engine import Enhancer, resize_to
from pipeline.upscale.engine.feeder import Feeder, Finish, padded_batch, shape_batches
from pipeline.upscale.engine.frames import device_shrink, frames_via_host
from pipeline.upscale.engine.imageio import quantize
from pipeline.upscale.engine.tiling import axis_tiles, upscale_tensor


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize(("length", "tile", "pad", "multiple"),
                         [(100, 32, 4, 1), (1080, 512, 10, 1), (37, 15, 5, 2), (64, 64, 0, 1),
                          (20, 512, 10, 1), (1920, 500, 12, 2)])
def test_axis_tiles_cover_once_with_context(
    length: int, tile: int, pad: int, multiple: int, uniform: bool
) -> None:
    length = -(-length // multiple) * multiple  # the tile loop pads to the grid first
    tiles = axis_tiles(length, tile, pad, multiple, uniform)
    cores = [(c0, c1) for c0, c1, _, _ in tiles]
    assert cores[0][0] == 0 and cores[-1][1] == length
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cores))
    if uniform:
        assert len({w1 - w0 for _, _, w0, w1 in tiles}) == 1  # one crop shape per image
    else:  # the fewest pixels: each window is its core and the pad the image has
        grid_pad = -(-pad // multiple) * multiple
        assert all((w0, w1) == (max(c0 - grid_pad, 0), min(c1 + grid_pad, length))
                   for c0, c1, w0, w1 in tiles)
    for c0, c1, w0, w1 in tiles:
        assert 0 <= w0 <= c0 < c1 <= w1 <= length
        assert c0 - w0 >= min(pad, c0) and w1 - c1 >= min(pad, length - c1)
        assert c1 - c0 <= -(-tile // multiple) * multiple if tile else c1 - c0 == length
        assert c0 % multiple == w0 % multiple == 0
    pad = -(-pad // multiple) * multiple
    assert len(tiles) == (1 if tile + 2 * pad >= length else -(-length // tile))


def test_batches_group_one_shape_and_pad_to_powers_of_two() -> None:
    crops = [torch.zeros(3, 4, 4), torch.zeros(3, 4, 2), torch.zeros(3, 4, 4),
             torch.zeros(3, 4, 4)]
    assert list(shape_batches(crops, 2)) == [[0, 2], [3], [1]]
    assert [padded_batch(n, 8) for n in (1, 2, 3, 5, 8)] == [1, 2, 4, 8, 8]
    assert padded_batch(3, 3) == 3 and padded_batch(5, 6) == 6


@pytest.fixture(scope="module")
def anime_video(fp32_enhancer: Enhancer) -> torch.nn.Module:
    return fp32_enhancer.load_model(MODELS["anime_video"])


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """Three real 36×52 frames: a face, a cup, fur."""
    return np.stack([data.astronaut()[90:126, 180:232], data.coffee()[150:186, 250:302],
                     data.chelsea()[60:96, 140:192]])


def _nchw(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).permute(0, 3, 1, 2)


def test_batched_across_tiles_and_frames_and_padded_equals_one_crop_at_a_time(
    anime_video: torch.nn.Module, frames: np.ndarray
) -> None:
    runtime = select_runtime(use_gpu=False, precision="fp32", channels_last=True)
    calls: list[int] = []
    hook = anime_video.register_forward_pre_hook(lambda _m, a: calls.append(len(a[0])))
    try:
        img = _nchw(frames).float() / 255.0
        common = {"scale": 4, "runtime": runtime, "tile_size": 11, "tile_pad": 4,
                  "arch": "srvggnet", "uniform_tiles": True}  # the crop geometry of CUDA
        alone = upscale_tensor(anime_video, img, batch_size=1, across_tiles=False,
                               pad_batch=False, **common)
        one_at_a_time = len(calls)
        calls.clear()
        batched = upscale_tensor(anime_video, img, batch_size=4, across_tiles=True,
                                 pad_batch=True, **common)
    finally:
        hook.remove()
    # 4 rows × 5 columns × 3 frames = 60 crops: 1 per call alone; batched, each row's 15
    # crops go 4, 4, 4 and 3 padded to 4 (the batch's fixed shape).
    assert one_at_a_time == 60 and calls == [4] * 16
    assert batched.shape == alone.shape == (3, 3, 144, 208)
    assert torch.equal(batched, alone)


def test_uint8_frames_finished_on_the_device_equal_the_host_float_path(
    anime_video: torch.nn.Module, frames: np.ndarray
) -> None:
    """Bytes in, a ×2 box shrink and quantisation before the copy back: the same pixels as
    floats in, float32 back, OpenCV's area resize and ``quantize`` on the host (a tie in the
    last float bit may round the other way: at most 1 level, on a handful of pixels)."""
    runtime = select_runtime(use_gpu=False, precision="fp32", channels_last=True)
    common = {"scale": 4, "runtime": runtime, "tile_size": 24, "tile_pad": 6,
              "arch": "srvggnet", "batch_size": 4, "across_tiles": True, "pad_batch": True}
    finished = upscale_tensor(anime_video, _nchw(frames), finish=Finish(shrink=2, quantize=True),
                              **common)
    native = upscale_tensor(anime_video, _nchw(frames).float() / 255.0, **common)
    assert finished.dtype == torch.uint8 and finished.shape == (3, 3, 72, 104)
    for got, full in zip(finished.permute(0, 2, 3, 1).numpy(),
                         native.permute(0, 2, 3, 1).numpy(), strict=True):
        expected = quantize(resize_to(np.ascontiguousarray(full), 104, 72), 8)
        diff = np.abs(got.astype(int) - expected.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_a_shrink_that_does_not_divide_the_scale_is_refused(
    anime_video: torch.nn.Module
) -> None:
    runtime = select_runtime(use_gpu=False, precision="fp32")
    with pytest.raises(ValueError, match="divide"):
        upscale_tensor(anime_video, torch.rand(1, 3, 8, 8), scale=4, runtime=runtime,
                       finish=Finish(shrink=3))


def test_device_shrink_only_for_factors_of_the_scale() -> None:
    assert device_shrink(4, 10, 6, 40, 24) == 1
    assert device_shrink(4, 10, 6, 20, 12) == 2
    assert device_shrink(4, 10, 6, 10, 6) == 4
    assert device_shrink(4, 9, 6, 12, 8) is None  # ×4/3: Lanczos/area on the host
    assert device_shrink(4, 10, 6, 30, 18) is None  # ×3 of a ×4 model
    assert device_shrink(2, 10, 6, 10, 6) == 2


@pytest.mark.parametrize("scale", [4, 2, 3])
def test_enhance_frames_fast_path_equals_the_float_path(
    models_dir: Path, frames: np.ndarray, scale: int
) -> None:
    """The video path (bytes in, finished on the device) against the float path it replaces:
    scale 3 is not a divisor of 4, so it takes the float path itself (identical)."""
    enhancer = Enhancer(use_gpu=False, precision="fp32", tile_size=24, tile_pad=6,
                        batch_size=4, models_dir=models_dir, auto_fetch=False)
    got = enhancer.enhance_frames(frames, model_type="anime_video", scale=scale)
    spec = MODELS["anime_video"]
    height, width = 36 * scale, 52 * scale
    expected = frames_via_host(enhancer, frames, spec, width, height, False, None)
    assert got.shape == expected.shape == (3, height, width, 3)
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    if scale == 3:
        assert np.array_equal(got, expected)


def test_the_feeder_hands_out_every_crop_once_in_order_of_batches(
    anime_video: torch.nn.Module
) -> None:
    runtime = select_runtime(use_gpu=False, precision="fp32")
    feeder = Feeder(anime_video, runtime, batch_size=2, finish=Finish(quantize=True))
    crops = [torch.full((3, 6, 6), value, dtype=torch.uint8) for value in (0, 255, 0)]
    crops.append(torch.zeros(3, 4, 6, dtype=torch.uint8))
    seen = [(index, tuple(result.shape), result.dtype) for index, result in feeder.run(crops)]
    assert [i for i, _, _ in seen] == [0, 1, 2, 3]
    assert [shape for _, shape, _ in seen] == [(3, 24, 24)] * 3 + [(3, 16, 24)]
    assert {dtype for _, _, dtype in seen} == {torch.uint8}
