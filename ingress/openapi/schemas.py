"""The response bodies as the OpenAPI document describes them: the manual's field names.

These models only document (routes name them in ``responses``); the views in
``ingress/*/documents.py`` build the real bodies. ``tests/ingress/test_schemathesis.py``
validates real responses against these schemas, so the two cannot drift apart silently.
Examples are the manual's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.jobs.status import ImageStatus, VideoStatus
from common.model_status import Weights
from common.models import MODEL_IDS

ModelId = Literal[MODEL_IDS]  # type: ignore[valid-type]
STAMP = "2024-12-03T10:35:00"
ID = "6752a1b2c3d4e5f6a7b8c9d1"


def _example(**value: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [value]})


class ErrorBody(BaseModel):
    """Every error answer: the manual's ``{"error": "..."}`` (never FastAPI's 422 shape)."""

    model_config = _example(error="Token de autenticación requerido")
    error: str


class Message(BaseModel):
    model_config = _example(message="Sesión cerrada exitosamente")
    message: str


class User(BaseModel):
    id: str
    username: str
    email: str
    is_active: bool
    created_at: str = Field(examples=["2024-12-03T10:30:00"])


class Registered(BaseModel):
    message: str = Field(examples=["Usuario registrado exitosamente"])
    user: User


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]


class LoggedIn(BaseModel):
    message: str = Field(examples=["Login exitoso"])
    tokens: Tokens


class Me(BaseModel):
    user: User


class ModelEntry(BaseModel):
    model_config = _example(
        id="general_x4", name="RealESRGAN_x4plus",
        description="Modelo general para fotos reales - Alta calidad, escala 4x",
        default_scale=4, supported_scales=[4],
        use_case="Fotos reales, retratos, paisajes - Alta calidad",
        recommended_for=["fotografías", "retratos", "paisajes", "arquitectura"],
        available=True, weights="official")
    id: ModelId
    name: str
    description: str
    default_scale: int
    supported_scales: list[int]
    use_case: str
    recommended_for: list[str]
    available: bool = Field(description="a live upscale worker can run it now (or will fetch "
                                        "its weights on the first request)")
    weights: Weights = Field(description="where the weights come from (README, Models)")


class Models(BaseModel):
    total: int
    models: list[ModelEntry]


class Readiness(BaseModel):
    available: bool
    weights: Weights


class Services(BaseModel):
    api: str
    mongodb: str
    gpu: str = Field(examples=["ok (NVIDIA GeForce RTX 3080)"])
    broker: str = Field(examples=["ok (rabbitmq)"])
    models: str = Field(examples=["3/5 ready; general_x2: missing, general_v3: missing; "
                                  "face_enhance: missing"])


class Health(BaseModel):
    status: Literal["healthy", "degraded"]
    services: Services


class Alive(BaseModel):
    status: Literal["alive"]


class Worker(BaseModel):
    stage: str
    device: str | None
    device_name: str | None


class Info(BaseModel):
    name: str
    version: str
    mode: Literal["embedded", "distributed"]
    device: dict[str, bool | str]
    tiling: dict[str, int | str]
    default_scale: int
    face_enhance: Readiness
    limits: dict[str, int]
    workers: list[Worker]


class _Image(BaseModel):
    """The manual's image fields up to ``completed_at``, in its order."""

    id: str
    original_filename: str
    original_width: int
    original_height: int
    enhanced_width: int | None
    enhanced_height: int | None
    model_type: ModelId
    scale: int
    output_width: int | None
    output_height: int | None
    face_enhance: bool
    status: ImageStatus
    processing_time_ms: int | None
    gpu_used: bool | None
    created_at: str | None = Field(examples=["2024-12-03T10:35:00"])
    completed_at: str | None


class ImageSummary(_Image):
    """An image as lists show it: every field of the manual's but the base64 payloads."""

    error_message: str | None


class ImageView(_Image):
    """The manual's image object; the payloads are absent with ``include_base64=false``."""

    original_base64: str | None = None
    enhanced_base64: str | None = None
    error_message: str | None


class ImageAnswer(BaseModel):
    model_config = _example(message="Imagen procesada exitosamente", image={
        "id": ID, "original_filename": "mi_imagen.jpg", "original_width": 256,
        "original_height": 256, "enhanced_width": 1920, "enhanced_height": 1080,
        "model_type": "general_x4", "scale": 4, "output_width": 1920, "output_height": 1080,
        "face_enhance": False, "status": "completed", "processing_time_ms": 5432,
        "gpu_used": True, "created_at": "2024-12-03T10:35:00",
        "completed_at": "2024-12-03T10:35:05", "original_base64": "...",
        "enhanced_base64": "...", "error_message": None})
    message: str
    image: ImageView


class ImageOnly(BaseModel):
    image: ImageView


class ImageList(BaseModel):
    total: int
    page: int
    per_page: int
    images: list[ImageSummary]


class VideoSubmittedView(BaseModel):
    id: str
    original_filename: str
    status: VideoStatus
    duration_seconds: float
    fps: float
    frame_count: int
    original_width: int
    original_height: int
    frames_processed: int
    model_type: ModelId
    scale: int
    face_enhance: bool
    skip_similar: float | None = Field(
        description="Near-repeat threshold in dB PSNR the job uses; null: exact repeats only.")
    created_at: str | None


class VideoSubmitted(BaseModel):
    model_config = _example(
        message="Video recibido, procesamiento iniciado. Consulte el estado con GET "
                "/api/videos/{id}",
        video={"id": ID, "original_filename": "mi_video.mp4", "status": "pending",
               "duration_seconds": 30.5, "fps": 29.97, "frame_count": 914,
               "original_width": 1920, "original_height": 1080, "frames_processed": 0,
               "model_type": "general_x4", "scale": 2, "face_enhance": False,
               "skip_similar": None, "created_at": STAMP})
    message: str
    video: VideoSubmittedView


class VideoSummary(BaseModel):
    id: str
    original_filename: str
    status: VideoStatus
    model_type: ModelId
    scale: int
    face_enhance: bool
    skip_similar: float | None = Field(
        description="Near-repeat threshold in dB PSNR the job uses; null: exact repeats only.")
    duration_seconds: float
    fps: float
    frame_rate: str = Field(examples=["30000/1001"])
    frame_count: int
    frames_processed: int
    frames_reused: int = Field(
        description="Of frames_processed, the frames that repeated an earlier one and reused "
                    "its output instead of running the model.")
    processing_fps: float | None = Field(description="Output frames per second so far "
                                                     "(reused frames included).")
    eta_seconds: float | None
    original_width: int
    original_height: int
    enhanced_width: int | None
    enhanced_height: int | None
    processing_time_ms: int | None
    gpu_used: bool | None
    error_message: str | None
    created_at: str | None
    started_at: str | None
    completed_at: str | None
    dropped_streams: list[str] = Field(
        description="Source streams the result could not carry, as notes such as "
                    "\"subtitle#2 (codec unknown)\"; empty when every stream was kept.",
        examples=[[]],
    )


class VideoView(VideoSummary):
    """The manual's video object: the payloads are null until ``completed`` and absent with
    ``include_base64=false``."""

    original_base64: str | None = None
    enhanced_base64: str | None = None


class VideoOnly(BaseModel):
    video: VideoView


class VideoList(BaseModel):
    total: int
    page: int
    per_page: int
    videos: list[VideoSummary]
