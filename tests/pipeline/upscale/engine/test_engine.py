"""Networks, architectures with random weights, converter refusals, devices, frames, faces."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from common.errors import InvalidInput
from common.models import MODELS
from common.settings import load_settings
from pipeline.upscale.engine.archs import RRDBNet, load_weights, unwrap_state_dict
from pipeline.upscale.engine.device import cpu_supports_bf16, select_runtime
from pipeline.upscale.engine.engine import Enhancer
from pipeline.upscale.engine.ncnn_convert import NcnnFormatError, convert, ncnn_files
from pipeline.upscale.engine.networks import network_for
from tests.pipeline.upscale.engine.conftest import png_bytes, psnr, random_state_dict


def test_every_catalogue_model_has_a_network_of_its_native_scale() -> None:
    for spec in MODELS.values():
        net = network_for(spec).build().eval()
        with torch.inference_mode():
            out = net(torch.rand(1, 3, 8, 8))
        assert out.shape == (1, 3, 8 * spec.native_scale, 8 * spec.native_scale), spec.id


@pytest.mark.parametrize(("model_type", "first_in", "out_hw"),
                         [("general_x2", 12, (32, 48)), ("general_v3", 3, (64, 96))])
def test_random_weights_load_strictly_with_official_keys(
    model_type: str, first_in: int, out_hw: tuple[int, int]
) -> None:
    network = network_for(MODELS[model_type])
    state = random_state_dict(model_type)
    if network.arch == "rrdbnet":
        assert {"conv_first.weight", "body.22.rdb3.conv5.bias", "conv_body.weight",
                "conv_up1.weight", "conv_up2.weight", "conv_hr.weight",
                "conv_last.weight"} <= set(state)
        assert state["conv_first.weight"].shape[1] == first_in
    else:
        assert {"body.0.weight", "body.1.weight", "body.65.weight", "body.66.bias"} <= set(state)
        assert state["body.66.weight"].shape[0] == 48
    net = load_weights(network.build(), {"params": {}, "params_ema": state}).eval()
    with torch.inference_mode():
        out = net(torch.rand(1, 3, 16, 24))
    assert out.shape == (1, 3, *out_hw)
    with pytest.raises(RuntimeError, match="Missing key"):
        load_weights(network.build(), {k: v for k, v in state.items() if k != "conv_last.bias"
                                    and k != "body.66.bias"})


def test_checkpoint_unwrapping_prefers_params_ema() -> None:
    ema, plain = {"a": torch.zeros(1)}, {"a": torch.ones(1)}
    assert unwrap_state_dict({"params": plain, "params_ema": ema}) is ema
    assert unwrap_state_dict({"params": plain}) is plain
    assert unwrap_state_dict(plain) is plain


def test_scale_one_rrdbnet_unshuffles_by_four() -> None:
    net = RRDBNet(scale=1, num_block=1)
    assert net.conv_first.in_channels == 48
    assert net(torch.rand(1, 3, 8, 8)).shape == (1, 3, 8, 8)


def test_converter_refuses_another_architecture() -> None:
    param, weights = ncnn_files(MODELS["anime"])
    with pytest.raises(NcnnFormatError):
        convert(param.read_text(), weights.read_bytes(), MODELS["general_x4"])
    with pytest.raises(NcnnFormatError):
        convert(param.read_text(), weights.read_bytes()[:-8], MODELS["anime"])


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason="CPU fallback: this host has CUDA (see the CUDA test below)")
def test_use_gpu_falls_back_to_the_cpu_without_cuda(models_dir: Path) -> None:
    cpu = select_runtime(use_gpu=True, precision="auto")
    assert cpu.device.type == "cpu"
    assert cpu.dtype == (torch.bfloat16 if cpu_supports_bf16() else torch.float32)
    assert select_runtime(use_gpu=True, precision="fp32").dtype == torch.float32
    enhancer = Enhancer(use_gpu=True, models_dir=models_dir, auto_fetch=False)
    assert enhancer.gpu_used is False


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_use_gpu_runs_on_cuda_in_fp16_where_there_is_one(models_dir: Path) -> None:
    gpu = select_runtime(use_gpu=True, precision="auto")
    assert (gpu.device.type, gpu.dtype) == ("cuda", torch.float16)
    assert select_runtime(use_gpu=True, precision="fp32").dtype == torch.float32
    assert select_runtime(use_gpu=False, precision="auto").device.type == "cpu"
    enhancer = Enhancer(use_gpu=True, models_dir=models_dir, auto_fetch=False)
    assert enhancer.gpu_used is True


def test_from_settings(models_dir: Path) -> None:
    settings = load_settings(use_gpu=False, tile_size=128, tile_pad=6, precision="fp32",
                             models_dir=models_dir)
    enhancer = Enhancer.from_settings(settings, auto_fetch=False)
    assert (enhancer.tile_size, enhancer.tile_pad, enhancer.models_dir) == (128, 6, models_dir)
    assert enhancer.runtime.dtype == torch.float32
    assert enhancer.max_output_pixels == settings.max_output_pixels
    # DEFAULT_SCALE reaches library callers that name no scale, as it does API requests.
    assert enhancer.scale_for(MODELS["general_x4"], None) == 4
    lowered = Enhancer.from_settings(load_settings(use_gpu=False, default_scale=2),
                                     auto_fetch=False)
    assert [lowered.scale_for(MODELS[m], None) for m in ("general_x4", "general_x2")] == [2, 2]
    assert lowered.scale_for(MODELS["general_x4"], 3) == 3


def test_frames_batch_equals_single_images(models_dir: Path, photos: dict[str, np.ndarray]) -> None:
    enhancer = Enhancer(use_gpu=False, precision="bf16", tile_size=0, batch_size=2,
                        models_dir=models_dir, auto_fetch=False)
    frames = np.stack([photos[name][:24, :40] for name in ("astronaut", "coffee", "chelsea")])
    out = enhancer.enhance_frames(frames, model_type="anime_video", scale=2)
    assert out.shape == (3, 48, 80, 3) and out.dtype == np.uint8
    for frame, got in zip(frames, out, strict=True):
        single = enhancer.enhance_image(png_bytes(frame), model_type="anime_video", scale=2)
        expected = np.asarray(Image.open(io.BytesIO(single.data)))
        assert psnr(got, expected) >= 50.0
    listed = enhancer.enhance_frames(list(frames[:1]), model_type="anime_video", scale=2)
    assert np.array_equal(listed[0], out[0])
    with pytest.raises(InvalidInput):
        enhancer.enhance_frames(frames[..., :2], model_type="anime_video")


def test_general_x2_through_the_enhancer_with_given_weights(models_dir: Path) -> None:
    enhancer = Enhancer(use_gpu=False, precision="fp32", tile_size=0, models_dir=models_dir,
                        auto_fetch=False)
    enhancer.load_model(MODELS["general_x2"], random_state_dict("general_x2"))
    rgb = np.ascontiguousarray(data.coffee()[:15, :21])  # odd sizes: reflect-padded, cropped
    result = enhancer.enhance_image(png_bytes(rgb), model_type="general_x2")
    assert (result.width, result.height, result.scale) == (42, 30, 2)


def test_face_enhance_uses_the_injected_restorer(models_dir: Path) -> None:
    from pipeline.upscale.engine.faces import FaceRestorer
    from pipeline.upscale.engine.gfpgan_arch import GFPGANv1Clean

    torch.manual_seed(0)
    restorer = FaceRestorer(state_dict=GFPGANv1Clean().state_dict())
    enhancer = Enhancer(use_gpu=False, precision="fp32", tile_size=0, models_dir=models_dir,
                        auto_fetch=False, face_restorer=restorer)
    portrait = np.asarray(Image.fromarray(data.astronaut()[:320, 96:416]).resize((160, 160)))
    plain = enhancer.enhance_image(png_bytes(portrait), model_type="anime_video", scale=1)
    faces = enhancer.enhance_image(png_bytes(portrait), model_type="anime_video", scale=1,
                                   face_enhance=True)
    before = np.asarray(Image.open(io.BytesIO(plain.data)))
    after = np.asarray(Image.open(io.BytesIO(faces.data)))
    assert before.shape == after.shape == (160, 160, 3)
    changed = np.abs(before.astype(int) - after.astype(int)).sum(axis=2) > 0
    assert 0.02 < changed.mean() < 0.9  # a face region was replaced, not the whole image


def test_missing_face_weights_fail_the_job_before_the_upscale(
    models_dir: Path, tmp_path: Path
) -> None:
    """GFPGAN's weights are obtained first: when they cannot be had (here: no file, the
    download host unreachable, no package ships them) no model time is spent."""
    from common.errors import ModelUnavailable
    from tests.image_models import OFFLINE_WEIGHTS, private_copy

    enhancer = Enhancer(use_gpu=False, precision="fp32", tile_size=0,
                        models_dir=private_copy(models_dir, tmp_path),
                        weights_base_url=OFFLINE_WEIGHTS["WEIGHTS_BASE_URL"])
    upscaled: list[int] = []  # the crops of each call of the upscaling network
    net = enhancer.load_model(MODELS["anime_video"])
    net.register_forward_pre_hook(lambda _net, args: upscaled.append(len(args[0])))
    rgb = np.ascontiguousarray(data.coffee()[:16, :16])
    for run in (
        lambda: enhancer.enhance_image(png_bytes(rgb), model_type="anime_video",
                                       face_enhance=True),
        lambda: enhancer.enhance_frames(rgb[None], model_type="anime_video", face_enhance=True),
    ):
        with pytest.raises(ModelUnavailable, match="face_enhance no disponible"):
            run()
    assert upscaled == []
    assert enhancer.enhance_image(png_bytes(rgb), model_type="anime_video", scale=1).width == 16
    assert upscaled == [1]
