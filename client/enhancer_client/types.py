"""Typed results with the manual's field names.

Each class is built from the API's JSON object; fields the API does not send are ``None``,
fields this version does not know are kept in ``raw``, so a newer server never breaks an
older client. Timestamps stay in the manual's form (``"2024-12-03T10:35:00"``, UTC).
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

IMAGE_DONE = ("completed", "failed")
VIDEO_DONE = ("completed", "error")


def _build(cls: type[T], data: dict[str, Any]) -> T:
    make: Any = cls
    names = {f.name for f in dataclasses.fields(make) if f.name != "raw"}
    built: T = make(**{k: v for k, v in data.items() if k in names}, raw=dict(data))
    return built


@dataclass(frozen=True)
class Image:
    id: str
    status: str
    original_filename: str | None = None
    original_width: int | None = None
    original_height: int | None = None
    enhanced_width: int | None = None
    enhanced_height: int | None = None
    model_type: str | None = None
    scale: int | None = None
    output_width: int | None = None
    output_height: int | None = None
    face_enhance: bool | None = None
    processing_time_ms: int | None = None
    gpu_used: bool | None = None
    created_at: str | None = None
    completed_at: str | None = None
    error_message: str | None = None
    original_base64: str | None = None
    enhanced_base64: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    kind = "image"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Image:
        return _build(cls, data)

    @property
    def done(self) -> bool:
        return self.status in IMAGE_DONE

    @property
    def enhanced_bytes(self) -> bytes | None:
        """The result, when the answer carried it (``enhanced_base64``)."""
        return base64.b64decode(self.enhanced_base64) if self.enhanced_base64 else None


@dataclass(frozen=True)
class Video:
    id: str
    status: str
    original_filename: str | None = None
    model_type: str | None = None
    scale: int | None = None
    face_enhance: bool | None = None
    skip_similar: float | None = None
    duration_seconds: float | None = None
    fps: float | None = None
    frame_rate: str | None = None
    frame_count: int | None = None
    frames_processed: int | None = None
    frames_reused: int | None = None
    processing_fps: float | None = None
    eta_seconds: float | None = None
    original_width: int | None = None
    original_height: int | None = None
    enhanced_width: int | None = None
    enhanced_height: int | None = None
    processing_time_ms: int | None = None
    gpu_used: bool | None = None
    error_message: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    dropped_streams: list[str] = field(default_factory=list)
    original_base64: str | None = None
    enhanced_base64: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    kind = "video"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Video:
        return _build(cls, data)

    @property
    def done(self) -> bool:
        return self.status in VIDEO_DONE

    def updated(self, data: dict[str, Any]) -> Video:
        """This video with the fields of a progress event applied."""
        return _build(Video, {**self.raw, **data})


@dataclass(frozen=True)
class Model:
    id: str
    name: str | None = None
    description: str | None = None
    default_scale: int | None = None
    supported_scales: list[int] = field(default_factory=list)
    use_case: str | None = None
    recommended_for: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Model:
        return _build(cls, data)


@dataclass(frozen=True)
class User:
    id: str
    username: str
    email: str
    is_active: bool | None = None
    created_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> User:
        return _build(cls, data)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of ``GET /api/images`` or ``GET /api/videos``."""

    total: int
    page: int
    per_page: int
    items: list[T]


@dataclass(frozen=True)
class Tokens:
    """A session's pair; the refresh token is rotated by every refresh."""

    access_token: str
    refresh_token: str
