"""The one ``Settings`` object, read from ``.env`` and the environment.

Field names are the manual's variable names (matched case-insensitively); everything the
design adds has a default that works for the embedded run.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import quote_plus

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from common.errors import ConfigError
from common.sizing import MAX_SCALE, MIN_SCALE

if TYPE_CHECKING:
    from common.store.s3_layout import S3Location

Port = Annotated[int, Field(ge=1, le=65535)]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in ``"30"``, ``"30s"``, ``"2m"``, ``"1h"`` or ``"500ms"``."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 2m, 1h)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"a duration must be positive: {text!r}")
    return seconds
X264Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # MongoDB (the manual's names and defaults)
    mongo_host: str = "192.168.86.10"
    mongo_port: Port = 27017
    mongo_db: str = "image_enhancer"
    mongo_user: str = ""
    mongo_password: str = ""
    # Overrides host/port/user/password. Unset in the embedded run, which then spawns SecantusDB.
    mongo_url: str = ""
    # The API's patience per database operation; past it the request gets 503.
    mongo_timeout_seconds: float = Field(5.0, gt=0)

    # API
    api_host: str = "0.0.0.0"
    api_port: Port = 8888
    api_debug: bool = False

    # JWT: read by the API process only (``ingress/auth/secret.py`` checks the key).
    jwt_secret_key: str = ""
    jwt_access_token_expire_minutes: int = Field(30, ge=1)
    jwt_refresh_token_expire_days: int = Field(7, ge=1)
    jwt_issuer: str = "image-enhancer"
    jwt_audience: str = "image-enhancer-api"
    # Failed logins per email within the window before answering 429.
    login_max_failures: int = Field(5, ge=1)
    # Per client IP the allowance is larger: many users may share one address (NAT, office).
    login_max_failures_per_ip: int = Field(20, ge=1)
    login_window_seconds: int = Field(300, ge=1)

    # GPU and Real-ESRGAN
    use_gpu: bool = True
    # The scale of a request that names none: the model's default, lowered to this.
    default_scale: int = Field(MAX_SCALE, ge=MIN_SCALE, le=MAX_SCALE)
    # 0 disables tiling; "auto" sizes tiles from free GPU/host memory.
    tile_size: Annotated[int, Field(ge=0)] | Literal["auto"] = 512
    tile_pad: int = Field(10, ge=0)
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    # torch.compile of the networks (cache under MODELS_DIR/torch-compile): off, default,
    # reduce-overhead (CUDA graphs by Inductor) or max-autotune (slow first call per shape).
    torch_compile: Literal["off", "default", "reduce-overhead", "max-autotune"] = "off"
    # Replay one captured CUDA graph per tile shape (GPU only; ignored on the CPU).
    cuda_graphs: bool = False

    # The manual's network variables (NETWORK_*, MONGODB_IP, API_IP) are docker compose's
    # alone: docker-compose.yml reads them from .env, no process does.

    # Broker. Unset in the embedded run, which then uses the in-process bus.
    amqp_url: str = ""
    bus_namespace: str = "enhancer"
    bus_delivery_limit: int = Field(5, ge=1)
    bus_prefetch: int = Field(2, ge=1)
    # The broker's delivery-ack timeout (RabbitMQ's consumer_timeout, 30 min by default): every
    # message is settled well within it (pipeline.runner), and consumers ask for it (3.12+).
    bus_consumer_timeout_seconds: float = Field(1800.0, ge=1)
    # How long a process waits at start-up for MongoDB and RabbitMQ before giving up.
    startup_retry_seconds: float = Field(30.0, ge=0)

    # Storage
    # Where blobs (originals, chunks, results) live: empty = GridFS in the job database;
    # "s3://bucket/prefix" = S3-compatible object storage (MinIO, Ceph RGW, AWS S3), at
    # S3_ENDPOINT_URL (empty: AWS itself) in S3_REGION. Credentials: AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, or, both empty, boto's own chain (IRSA, instance profile).
    blob_store_url: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""
    # With object storage: answer downloads with a redirect to a presigned URL valid this many
    # seconds instead of streaming through the API (0: always stream). The storage endpoint
    # must then be reachable by clients.
    blob_download_redirect_seconds: int = Field(0, ge=0, le=7 * 24 * 3600)
    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    # Mirror of the GitHub release files the weights are downloaded from (empty: GitHub).
    weights_base_url: str = ""

    # Limits
    max_request_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    max_input_pixels: int = Field(4096 * 4096, ge=1)
    max_output_pixels: int = Field(8192 * 8192, ge=1)
    image_wait_seconds: float = Field(120.0, ge=0)
    # Per user: jobs pending or running at once (images and videos together), and new jobs
    # per minute; beyond either, 429 with Retry-After and nothing stored.
    max_active_jobs_per_user: int = Field(10, ge=1)
    max_submissions_per_minute: int = Field(60, ge=1)

    # Video: caps enforced at probe time (ingress), before anything is stored.
    max_video_seconds: float = Field(600.0, gt=0)
    max_video_frames: int = Field(36_000, ge=1)
    max_video_pixels: int = Field(3840 * 2160, ge=1)
    # Wall-clock and address-space limits for probing and decoding hostile files.
    video_probe_timeout_seconds: float = Field(30.0, gt=0)
    video_decode_memory_mb: int = Field(4096, ge=256)
    # Target chunk length; chunks are cut at the first keyframe at or after it.
    video_chunk_seconds: float = Field(2.0, gt=0)
    # Most frames in one chunk, whatever its GOP or frame rate: bounds the work per message.
    video_chunk_max_frames: int = Field(120, ge=1)
    # Chunks of one video on the upscale queue or being upscaled at once: the rest wait in
    # the database and are released one per finished chunk, so other videos' chunks
    # interleave (fairness). At least the number of upscale workers, or one video cannot
    # keep them all busy.
    video_chunks_in_flight: int = Field(4, ge=1)
    # Completed jobs are deleted with their files this many days after completion; 0 keeps
    # them forever. The sweep that applies it (and removes orphaned GridFS data) runs in each
    # decode worker every SWEEP_INTERVAL_SECONDS (common.jobs.sweep).
    result_retention_days: float = Field(0.0, ge=0)
    sweep_interval_seconds: float = Field(3600.0, gt=0)
    # How often each decode worker looks for stalled jobs (running, quiet for longer than the
    # longest message time, no message anywhere) and re-drives or fails them.
    watchdog_interval_seconds: float = Field(60.0, gt=0)
    # Frames per engine call in the upscale stage.
    video_batch_frames: int = Field(4, ge=1)
    # libx264 settings of the encode stage.
    video_crf: int = Field(18, ge=0, le=51)
    video_preset: X264Preset = "medium"

    # Webhooks: the wait before each retry of a failed delivery ("10s,30s,2m,...": s, m or h;
    # the default spans about a day), the timeout of one attempt, and the networks a
    # callback_url may reach besides public addresses (CIDRs, e.g. "127.0.0.0/8" for a
    # receiver on the same host; loopback, private and link-local are refused otherwise).
    webhook_retry_delays: Annotated[tuple[float, ...], NoDecode] = (
        10, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800)
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)
    webhook_allow_networks: Annotated[tuple[str, ...], NoDecode] = ()

    # Progress events (SSE): how often a stream reads its job's document.
    events_poll_seconds: float = Field(0.5, gt=0, le=10)

    # Prometheus: /metrics wants "Authorization: Bearer <METRICS_TOKEN>" when set (unset: the
    # API's /metrics answers loopback clients only, its port being the published one); a stage
    # process serves its own metrics on METRICS_PORT (0: none; the API serves /metrics on
    # API_PORT).
    metrics_token: str = ""
    metrics_port: int = Field(0, ge=0, le=65535)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "text" for people, "json" for log collectors: one object per line.
    log_format: Literal["text", "json"] = "text"

    @field_validator("webhook_retry_delays", mode="before")
    @classmethod
    def _durations(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(parse_duration(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("webhook_allow_networks", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("webhook_allow_networks")
    @classmethod
    def _valid_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("torch_compile", mode="before")
    @classmethod
    def _lower_compile(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("use_gpu", "api_debug", "cuda_graphs", mode="before")
    @classmethod
    def _manual_booleans(cls, value: object) -> object:
        # The manual writes TRUE/FALSE; pydantic already accepts those, but an inline
        # comment stripped badly by a hand-edited file should still fail loudly.
        return value.strip() if isinstance(value, str) else value

    @field_validator("tile_size", mode="before")
    @classmethod
    def _auto_tile(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        return value

    def blob_location(self) -> S3Location | None:
        """The object storage BLOB_STORE_URL names, or None for GridFS."""
        if not self.blob_store_url:
            return None
        # Imported here: settings stay importable without the data layer's drivers.
        from common.store.s3_layout import S3Location

        return S3Location.from_url(
            self.blob_store_url, endpoint_url=self.s3_endpoint_url or None,
            region=self.s3_region or None, access_key_id=self.aws_access_key_id or None,
            secret_access_key=self.aws_secret_access_key or None)

    def resolved_mongo_url(self) -> str:
        if self.mongo_url:
            return self.mongo_url
        auth = ""
        if self.mongo_user:
            auth = f"{quote_plus(self.mongo_user)}:{quote_plus(self.mongo_password)}@"
        return f"mongodb://{auth}{self.mongo_host}:{self.mongo_port}/"


def environment_help() -> str:
    """Every variable ``Settings`` reads, with its default: the epilog of each ``--help``."""
    lines = ["environment (also read from .env; names are case-insensitive):"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "" if default in ("", None) else str(default)
        lines.append(f"  {name.upper()}={shown}")
    return "\n".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "?"
        raise ConfigError(f"invalid setting {name}: {first['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
