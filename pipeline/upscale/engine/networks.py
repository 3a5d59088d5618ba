"""How the engine builds the network behind each catalogue entry (``common.models``).

The catalogue says which official weights file a model loads; the shape of the network those
weights belong to is a property of the file, so the table is keyed by file name. Architectures
and sizes are the official ones (RRDBNet for the x4plus/x2plus/anime_6B files, SRVGGNetCompact
for the compact v3 files), so the released ``.pth`` files load with ``strict=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from common.models import ModelSpec
from pipeline.upscale.engine.archs import RRDBNet, SRVGGNetCompact

ArchKind = Literal["rrdbnet", "srvggnet"]


@dataclass(frozen=True)
class Network:
    arch: ArchKind
    params: dict[str, Any] = field(default_factory=dict)

    def build(self) -> nn.Module:
        """An untrained network of this exact shape (load weights into it)."""
        if self.arch == "rrdbnet":
            return RRDBNet(**self.params)
        return SRVGGNetCompact(**self.params)


def _rrdb(scale: int, num_block: int) -> Network:
    return Network("rrdbnet", {"num_in_ch": 3, "num_out_ch": 3, "scale": scale, "num_feat": 64,
                               "num_block": num_block, "num_grow_ch": 32})


def _srvgg(num_conv: int) -> Network:
    return Network("srvggnet", {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 64,
                                "num_conv": num_conv, "upscale": 4, "act_type": "prelu"})


# Keyed by the official file name (``ModelSpec.weights_file``).
_NETWORKS: dict[str, Network] = {
    "RealESRGAN_x4plus.pth": _rrdb(4, 23),
    "RealESRGAN_x2plus.pth": _rrdb(2, 23),
    "RealESRGAN_x4plus_anime_6B.pth": _rrdb(4, 6),
    "realesr-animevideov3.pth": _srvgg(16),
    "realesr-general-x4v3.pth": _srvgg(32),
}


def network_for(spec: ModelSpec) -> Network:
    """The network ``spec``'s weights belong to."""
    try:
        return _NETWORKS[spec.weights_file]
    except KeyError:
        raise LookupError(f"no network is known for {spec.weights_file} ({spec.id})") from None


def build(spec: ModelSpec) -> nn.Module:
    """An untrained network of ``spec``'s exact shape."""
    return network_for(spec).build()
