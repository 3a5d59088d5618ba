"""GFPGANv1Clean: the state-dict layout of the official GFPGANv1.4.pth, strict loading, forward.

The real file cannot be downloaded here, so its layout is written out below from GFPGAN's
architecture (v1.4 config) independently of our module, and checked against the published size.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from pipeline.upscale.engine.faces import FaceRestorer, load_gfpgan, unwrap_checkpoint
from pipeline.upscale.engine.gfpgan_arch import GFPGANv1Clean

OFFICIAL_FILE_BYTES = 348_632_874  # GFPGANv1.4.pth, GFPGAN release v1.3.4
OFFICIAL_NUMEL = 87_143_276  # 86,444,252 parameters + 699,024 noise-buffer values
OFFICIAL_NUM_KEYS = 285


def official_v14_shapes() -> dict[str, tuple[int, ...]]:
    """Key -> shape of `params_ema` in GFPGANv1.4.pth (out_size 512, channel_multiplier 2)."""
    unet = {4: 256, 8: 256, 16: 256, 32: 256, 64: 256, 128: 128, 256: 64, 512: 32}  # half width
    dec = {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64}
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(name: str, cin: int, cout: int, k: int, bias: bool = True) -> None:
        shapes[f"{name}.weight"] = (cout, cin, k, k)
        if bias:
            shapes[f"{name}.bias"] = (cout,)

    def linear(name: str, cin: int, cout: int) -> None:
        shapes[f"{name}.weight"] = (cout, cin)
        shapes[f"{name}.bias"] = (cout,)

    def resblock(name: str, cin: int, cout: int) -> None:
        conv(f"{name}.conv1", cin, cin, 3)
        conv(f"{name}.conv2", cin, cout, 3)
        conv(f"{name}.skip", cin, cout, 1, bias=False)

    def modconv(name: str, cin: int, cout: int, k: int) -> None:
        shapes[f"{name}.modulated_conv.weight"] = (1, cout, cin, k, k)
        linear(f"{name}.modulated_conv.modulation", 512, cin)

    conv("conv_body_first", 3, unet[512], 1)
    for i, res in enumerate([512, 256, 128, 64, 32, 16, 8]):
        resblock(f"conv_body_down.{i}", unet[res], unet[res // 2])
    conv("final_conv", unet[4], unet[4], 3)
    for i, res in enumerate([8, 16, 32, 64, 128, 256, 512]):
        resblock(f"conv_body_up.{i}", unet[res // 2], unet[res])
        conv(f"toRGB.{i}", unet[res], 3, 1)
        for branch in ("condition_scale", "condition_shift"):  # Conv, LeakyReLU, Conv
            conv(f"{branch}.{i}.0", unet[res], unet[res], 3)
            conv(f"{branch}.{i}.2", unet[res], unet[res], 3)  # sft_half: out == unet width
    linear("final_linear", unet[4] * 4 * 4, 16 * 512)  # different_w: 16 latents of 512

    d = "stylegan_decoder"
    for j in range(1, 16, 2):  # NormStyleCode at 0, then Linear/LeakyReLU pairs
        linear(f"{d}.style_mlp.{j}", 512, 512)
    shapes[f"{d}.constant_input.weight"] = (1, 512, 4, 4)
    modconv(f"{d}.style_conv1", 512, 512, 3)
    shapes[f"{d}.style_conv1.weight"] = (1,)  # noise strength
    shapes[f"{d}.style_conv1.bias"] = (1, 512, 1, 1)
    modconv(f"{d}.to_rgb1", 512, 3, 1)
    shapes[f"{d}.to_rgb1.bias"] = (1, 3, 1, 1)
    for i, res in enumerate([8, 16, 32, 64, 128, 256, 512]):
        for k, cin in ((2 * i, dec[res // 2]), (2 * i + 1, dec[res])):
            modconv(f"{d}.style_convs.{k}", cin, dec[res], 3)
            shapes[f"{d}.style_convs.{k}.weight"] = (1,)
            shapes[f"{d}.style_convs.{k}.bias"] = (1, dec[res], 1, 1)
        modconv(f"{d}.to_rgbs.{i}", dec[res], 3, 1)
        shapes[f"{d}.to_rgbs.{i}.bias"] = (1, 3, 1, 1)
    for j in range(15):  # one fixed noise map per style conv: 4, 8, 8, 16, 16, ..., 512, 512
        res = 2 ** ((j + 5) // 2)
        shapes[f"{d}.noises.noise{j}"] = (1, 1, res, res)
    return shapes


@pytest.fixture(scope="module")
def random_state_dict() -> dict[str, torch.Tensor]:
    """Weights with the official keys and shapes, built without our module."""
    gen = torch.Generator().manual_seed(0)
    return {
        key: torch.randn(shape, generator=gen) * (0.02 if len(shape) > 1 else 1.0)
        for key, shape in official_v14_shapes().items()
    }


def test_state_dict_matches_official_layout() -> None:
    with torch.device("meta"):
        ours = {k: tuple(v.shape) for k, v in GFPGANv1Clean().state_dict().items()}
    expected = official_v14_shapes()
    assert sorted(set(ours) - set(expected)) == []
    assert sorted(set(expected) - set(ours)) == []
    assert {k: v for k, v in ours.items() if expected[k] != v} == {}
    assert len(ours) == OFFICIAL_NUM_KEYS


def test_size_consistent_with_official_file() -> None:
    """4 bytes per fp32 value + container overhead = the published file size.

    Measured here (torch 2.13) by saving {"params_ema": state_dict} of our model: legacy format
    348,631,927 B (947 B under the official file), zip format 348,674,373 B (41,499 B over). The
    official file's 59,770 B beyond the raw data (~210 B per tensor for pickle + records) fits;
    one missing 3x3 conv of the decoder would be 9.4 MB off, an extra params copy 348 MB.
    """
    numel = sum(math.prod(s) for s in official_v14_shapes().values())
    assert numel == OFFICIAL_NUMEL
    with torch.device("meta"):
        model = GFPGANv1Clean()
    assert sum(p.numel() for p in model.parameters()) == 86_444_252
    assert sum(b.numel() for b in model.buffers()) == 699_024
    overhead = OFFICIAL_FILE_BYTES - 4 * numel
    assert 0 < overhead < 100 * OFFICIAL_NUM_KEYS * 4  # well under 1 KiB per tensor


def test_strict_load_of_official_keys(random_state_dict: dict[str, torch.Tensor]) -> None:
    model = load_gfpgan({"params_ema": random_state_dict, "params": {}})
    loaded = model.state_dict()
    key = "stylegan_decoder.style_convs.0.modulated_conv.weight"
    assert torch.equal(loaded[key], random_state_dict[key])
    # strict: a missing or an unexpected key is an error, not a silently random layer
    missing = dict(random_state_dict)
    del missing["stylegan_decoder.noises.noise14"]
    with pytest.raises(RuntimeError, match="noise14"):
        load_gfpgan(missing)
    with pytest.raises(RuntimeError, match="Unexpected"):
        load_gfpgan({**random_state_dict, "extra.weight": torch.zeros(1)})


def test_restorer_loads_a_checkpoint_file(
    random_state_dict: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    path = tmp_path / "GFPGANv1.4.pth"
    torch.save({"params_ema": random_state_dict}, path)  # the official file's layout
    try:
        restorer = FaceRestorer(path, dtype=torch.bfloat16)
    finally:
        path.unlink()  # 350 MB: do not leave it in pytest's kept temp dirs
    weight = restorer.model.state_dict()["final_linear.weight"]
    assert weight.dtype == torch.bfloat16
    assert torch.equal(weight, random_state_dict["final_linear.weight"].bfloat16())
    with pytest.raises(ValueError, match="exactly one"):
        FaceRestorer()
    with pytest.raises(ValueError, match="exactly one"):
        FaceRestorer(path, state_dict=random_state_dict)


def test_unwrap_checkpoint_prefers_ema() -> None:
    ema, plain = {"a": torch.zeros(1)}, {"a": torch.ones(1)}
    assert unwrap_checkpoint({"params_ema": ema, "params": plain}) is ema
    assert unwrap_checkpoint({"params": plain}) is plain
    assert unwrap_checkpoint(plain) is plain


def test_forward_random_weights_is_deterministic() -> None:
    torch.manual_seed(0)
    model = GFPGANv1Clean().eval()
    x = torch.rand(1, 3, 512, 512) * 2 - 1
    with torch.inference_mode():
        out = model(x)
        again = model(x)
    assert out.shape == (1, 3, 512, 512)
    assert torch.isfinite(out).all()
    clamped = out.clamp(-1, 1)
    assert clamped.min() >= -1 and clamped.max() <= 1
    assert out.std() > 0  # not a constant image
    assert torch.equal(out, again)  # stored noise buffers, not fresh noise
