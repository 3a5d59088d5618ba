"""GFPGANv1Clean (the architecture of GFPGAN v1.3/v1.4) in plain torch.

basicsr/gfpgan/facexlib import torchvision, which does not load beside the CPU torch build here
(see docs/ARCHITECTURE.md), so the network is re-written. Module attribute names follow
TencentARC/GFPGAN (`gfpganv1_clean_arch.py`, `stylegan2_clean_arch.py`) exactly: the official
`GFPGANv1.4.pth` must load with `strict=True`, and its state-dict keys *are* those names.

Only inference is needed: no weight init schemes, no style mixing, no truncation, no mean latent.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _channels(base: float, channel_multiplier: int) -> dict[int, int]:
    """Feature channels per resolution, as in StyleGAN2 (the encoder uses base 0.5*narrow)."""
    m = channel_multiplier
    return {
        4: int(512 * base), 8: int(512 * base), 16: int(512 * base), 32: int(512 * base),
        64: int(256 * m * base), 128: int(128 * m * base), 256: int(64 * m * base),
        512: int(32 * m * base), 1024: int(16 * m * base),
    }  # fmt: skip


class NormStyleCode(nn.Module):
    """First element of `style_mlp` (no parameters, but it shifts the Linear indices to 1,3,...)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 weight (de)modulation; bias-free. `weight` is (1, out, in, k, k) as in the file."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel_size: int, num_style_feat: int,
        demodulate: bool = True, upsample: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.out_ch = out_ch
        self.demodulate = demodulate
        self.upsample = upsample
        self.modulation = nn.Linear(num_style_feat, in_ch, bias=True)
        self.weight = nn.Parameter(
            torch.randn(1, out_ch, in_ch, kernel_size, kernel_size)
            / math.sqrt(in_ch * kernel_size**2)
        )
        self.padding = kernel_size // 2

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        b, c = x.shape[:2]
        # Modulate in fp32 whatever the model dtype: the demodulation sums in*k*k (up to 4608)
        # squares, which can overflow fp16 (-> inf -> a zero kernel); eps 1e-8 underflows there.
        style = self.modulation(style).float().view(b, 1, c, 1, 1)
        weight = self.weight.float() * style  # (b, out, in, k, k)
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4)) + 1e-8)
            weight = weight * demod.view(b, self.out_ch, 1, 1, 1)
        weight = weight.to(x.dtype)
        # The "clean" variant upsamples with bilinear interpolation, not the upfirdn2d blur kernel.
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        h, w = x.shape[2:]
        # One grouped conv applies each sample's own modulated kernel.
        out = F.conv2d(
            x.reshape(1, b * c, h, w), weight.reshape(b * self.out_ch, c, *weight.shape[3:]),
            padding=self.padding, groups=b,
        )  # fmt: skip
        return out.view(b, self.out_ch, *out.shape[2:])


class StyleConv(nn.Module):
    """Modulated conv + noise injection (`weight` = noise strength, shape (1,)) + bias + lrelu."""

    def __init__(
        self, in_ch: int, out_ch: int, num_style_feat: int, upsample: bool = False
    ) -> None:
        super().__init__()
        self.modulated_conv = ModulatedConv2d(in_ch, out_ch, 3, num_style_feat, upsample=upsample)
        self.weight = nn.Parameter(torch.zeros(1))
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))

    def forward(self, x: Tensor, style: Tensor, noise: Tensor | None) -> Tensor:
        out = self.modulated_conv(x, style) * math.sqrt(2)  # equalised-lr gain of the original
        if noise is None:
            noise = out.new_empty(out.shape[0], 1, *out.shape[2:]).normal_()
        out = out + self.weight * noise + self.bias
        return F.leaky_relu(out, 0.2)


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, num_style_feat: int, upsample: bool = True) -> None:
        super().__init__()
        self.upsample = upsample
        self.modulated_conv = ModulatedConv2d(in_ch, 3, 1, num_style_feat, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: Tensor, style: Tensor, skip: Tensor | None = None) -> Tensor:
        out = self.modulated_conv(x, style) + self.bias
        if skip is not None:
            if self.upsample:
                skip = F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
            out = out + skip
        return out


class ConstantInput(nn.Module):
    def __init__(self, num_channel: int, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, num_channel, size, size))

    def forward(self, batch: int) -> Tensor:
        return self.weight.expand(batch, -1, -1, -1)


class StyleGAN2GeneratorCSFT(nn.Module):
    """StyleGAN2GeneratorClean whose features are modulated by the U-Net's SFT conditions."""

    def __init__(
        self, out_size: int, num_style_feat: int = 512, num_mlp: int = 8,
        channel_multiplier: int = 2, narrow: float = 1, sft_half: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.sft_half = sft_half
        # style_mlp is unused when input_is_latent=True (v1.4) but its weights are in the file.
        mlp: list[nn.Module] = [NormStyleCode()]
        for _ in range(num_mlp):
            mlp += [nn.Linear(num_style_feat, num_style_feat), nn.LeakyReLU(0.2)]
        self.style_mlp = nn.Sequential(*mlp)

        ch = _channels(narrow, channel_multiplier)
        self.log_size = int(math.log2(out_size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.constant_input = ConstantInput(ch[4], size=4)
        self.style_conv1 = StyleConv(ch[4], ch[4], num_style_feat)
        self.to_rgb1 = ToRGB(ch[4], num_style_feat, upsample=False)
        # Fixed noise maps (persistent buffers, saved in the file): 4, 8, 8, 16, 16, ... out_size.
        self.noises = nn.Module()
        for idx in range(self.num_layers):
            res = 2 ** ((idx + 5) // 2)
            self.noises.register_buffer(f"noise{idx}", torch.randn(1, 1, res, res))
        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_ch = ch[4]
        for i in range(3, self.log_size + 1):
            out_ch = ch[2**i]
            self.style_convs.append(StyleConv(in_ch, out_ch, num_style_feat, upsample=True))
            self.style_convs.append(StyleConv(out_ch, out_ch, num_style_feat))
            self.to_rgbs.append(ToRGB(out_ch, num_style_feat))
            in_ch = out_ch

    def forward(self, latent: Tensor, conditions: list[Tensor], randomize_noise: bool) -> Tensor:
        """latent: (b, num_latent, num_style_feat) per-layer W codes; returns the RGB image."""
        noises: list[Tensor | None] = (
            [None] * self.num_layers
            if randomize_noise
            else [getattr(self.noises, f"noise{i}") for i in range(self.num_layers)]
        )
        out = self.style_conv1(self.constant_input(latent.shape[0]), latent[:, 0], noises[0])
        skip = self.to_rgb1(out, latent[:, 1])
        convs = self.style_convs
        for level, to_rgb in enumerate(self.to_rgbs):
            i = 2 * level + 1
            out = convs[i - 1](out, latent[:, i], noises[i])
            if i < len(conditions):  # SFT: conditions = [scale0, shift0, scale1, shift1, ...]
                scale, shift = conditions[i - 1], conditions[i]
                if self.sft_half:  # only the second half of the channels is modulated
                    same, sft = torch.split(out, out.shape[1] // 2, dim=1)
                    out = torch.cat([same, sft * scale + shift], dim=1)
                else:
                    out = out * scale + shift
            out = convs[i](out, latent[:, i + 1], noises[i + 1])
            skip = to_rgb(out, latent[:, i + 2], skip)
        return skip


class ResBlock(nn.Module):
    """Encoder/decoder residual block resampling by bilinear interpolation (x0.5 or x2)."""

    def __init__(self, in_ch: int, out_ch: int, mode: str = "down") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, in_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.scale_factor = 0.5 if mode == "down" else 2.0

    def forward(self, x: Tensor) -> Tensor:
        out = F.leaky_relu(self.conv1(x), 0.2)
        out = F.leaky_relu(self.conv2(self._resample(out)), 0.2)
        return out + self.skip(self._resample(x))

    def _resample(self, x: Tensor) -> Tensor:
        return F.interpolate(
            x, scale_factor=self.scale_factor, mode="bilinear", align_corners=False
        )


def _sft_branch(ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(ch, ch, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(ch, out_ch, 3, 1, 1)
    )


class GFPGANv1Clean(nn.Module):
    """U-Net encoder + StyleGAN2 decoder with SFT. Defaults are GFPGANv1.3/1.4's config.

    Only the options that change the state dict or the inference path are parameters; v1.4 is
    out_size=512, num_style_feat=512, channel_multiplier=2, num_mlp=8, input_is_latent=True,
    different_w=True, narrow=1, sft_half=True (decoder_load_path and fix_decoder are training-only).
    """

    def __init__(
        self, out_size: int = 512, num_style_feat: int = 512, channel_multiplier: int = 2,
        num_mlp: int = 8, input_is_latent: bool = True, different_w: bool = True,
        narrow: float = 1, sft_half: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        self.input_is_latent = input_is_latent
        self.different_w = different_w
        self.num_style_feat = num_style_feat
        self.log_size = int(math.log2(out_size))
        ch = _channels(narrow * 0.5, channel_multiplier)  # the U-Net is half as wide

        self.conv_body_first = nn.Conv2d(3, ch[out_size], 1)
        self.conv_body_down = nn.ModuleList()
        in_ch = ch[out_size]
        for i in range(self.log_size, 2, -1):
            self.conv_body_down.append(ResBlock(in_ch, ch[2 ** (i - 1)], mode="down"))
            in_ch = ch[2 ** (i - 1)]
        self.final_conv = nn.Conv2d(in_ch, ch[4], 3, 1, 1)

        self.conv_body_up = nn.ModuleList()
        self.toRGB = nn.ModuleList()  # intermediate RGB outputs: only used in training
        self.condition_scale = nn.ModuleList()
        self.condition_shift = nn.ModuleList()
        in_ch = ch[4]
        for i in range(3, self.log_size + 1):
            out_ch = ch[2**i]
            self.conv_body_up.append(ResBlock(in_ch, out_ch, mode="up"))
            self.toRGB.append(nn.Conv2d(out_ch, 3, 1))
            sft_ch = out_ch if sft_half else out_ch * 2
            self.condition_scale.append(_sft_branch(out_ch, sft_ch))
            self.condition_shift.append(_sft_branch(out_ch, sft_ch))
            in_ch = out_ch

        num_latent = self.log_size * 2 - 2
        linear_out = num_latent * num_style_feat if different_w else num_style_feat
        self.final_linear = nn.Linear(ch[4] * 4 * 4, linear_out)
        self.stylegan_decoder = StyleGAN2GeneratorCSFT(
            out_size, num_style_feat, num_mlp, channel_multiplier, narrow, sft_half
        )

    def forward(self, x: Tensor, randomize_noise: bool = False) -> Tensor:
        """x: (b, 3, out_size, out_size) RGB in [-1, 1]; returns the restored face (unclamped).

        randomize_noise defaults to False (the stored noise buffers) so that results are
        reproducible; upstream draws fresh noise on every call.
        """
        feat = F.leaky_relu(self.conv_body_first(x), 0.2)
        skips: list[Tensor] = []
        for down in self.conv_body_down:
            feat = down(feat)
            skips.insert(0, feat)
        feat = F.leaky_relu(self.final_conv(feat), 0.2)

        latent = self.final_linear(feat.flatten(1))
        if self.different_w:
            latent = latent.view(latent.shape[0], -1, self.num_style_feat)
        if not self.input_is_latent:  # as upstream (v1.4 never takes this path)
            latent = self.stylegan_decoder.style_mlp(latent)
        if latent.ndim < 3:  # one W shared by every layer
            latent = latent.unsqueeze(1).repeat(1, self.log_size * 2 - 2, 1)

        conditions: list[Tensor] = []
        for i, up in enumerate(self.conv_body_up):
            feat = up(feat + skips[i])
            conditions.append(self.condition_scale[i](feat))
            conditions.append(self.condition_shift[i](feat))
        return self.stylegan_decoder(latent, conditions, randomize_noise)
