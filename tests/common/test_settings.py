"""Settings: the manual's names and defaults, the JWT secret rules, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import ConfigError
from common.settings import Settings, load_settings

MANUAL_ENV = """\
MONGO_HOST=192.168.86.10
MONGO_PORT=27017
MONGO_DB=image_enhancer
MONGO_USER=
MONGO_PASSWORD=
API_HOST=0.0.0.0
API_PORT=8888
API_DEBUG=false
JWT_SECRET_KEY=your-super-secret-jwt-key-change-in-production
JWT_ACCESS_TOKEN_EXPIRE_MINUTES=30
JWT_REFRESH_TOKEN_EXPIRE_DAYS=7
USE_GPU=TRUE          # TRUE para GPU NVIDIA, FALSE para CPU
DEFAULT_SCALE=4
TILE_SIZE=512         # Reducir si hay problemas de memoria GPU
TILE_PAD=10
NETWORK_NAME=ImagesNet
NETWORK_SUBNET=192.168.86.0/24
NETWORK_GATEWAY=192.168.86.1
MONGODB_IP=192.168.86.10
API_IP=192.168.86.20
"""


def test_defaults_are_the_manuals(clean_env: Path) -> None:
    s = Settings()
    assert (s.mongo_host, s.mongo_port, s.mongo_db) == ("192.168.86.10", 27017, "image_enhancer")
    assert (s.api_host, s.api_port, s.api_debug) == ("0.0.0.0", 8888, False)
    assert (s.jwt_access_token_expire_minutes, s.jwt_refresh_token_expire_days) == (30, 7)
    assert s.use_gpu is True
    assert (s.default_scale, s.tile_size, s.tile_pad) == (4, 512, 10)


def test_compose_only_variables_are_not_python_settings(clean_env: Path) -> None:
    """NETWORK_*, MONGODB_IP and API_IP are read by docker compose alone (its own defaults are
    checked in tests/test_deployment.py); a process given them in .env just ignores them."""
    compose_only = {"network_name", "network_subnet", "network_gateway", "mongodb_ip", "api_ip"}
    assert compose_only.isdisjoint(Settings.model_fields)
    (clean_env / ".env").write_text(MANUAL_ENV)
    assert Settings().mongo_host == "192.168.86.10"


def test_reads_the_manuals_env_file_with_inline_comments(clean_env: Path) -> None:
    (clean_env / ".env").write_text(MANUAL_ENV.replace("USE_GPU=TRUE ", "USE_GPU=FALSE "))
    s = Settings()
    assert s.use_gpu is False
    assert s.tile_size == 512
    assert s.resolved_mongo_url() == "mongodb://192.168.86.10:27017/"


def test_environment_overrides_file_and_mongo_url_overrides_host(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text(MANUAL_ENV)
    monkeypatch.setenv("MONGO_URL", "mongodb://db.internal:27018/")
    monkeypatch.setenv("API_PORT", "9999")
    s = Settings()
    assert s.api_port == 9999
    assert s.resolved_mongo_url() == "mongodb://db.internal:27018/"


def test_credentials_are_escaped_into_the_url(clean_env: Path) -> None:
    s = Settings(mongo_user="ana", mongo_password="p@ss/word", mongo_host="m", mongo_port=1)
    assert s.resolved_mongo_url() == "mongodb://ana:p%40ss%2Fword@m:1/"


@pytest.mark.parametrize(
    ("name", "value"),
    [("API_PORT", "eighty"), ("USE_GPU", "maybe"), ("DEFAULT_SCALE", "9"), ("TILE_SIZE", "-5")],
)
def test_invalid_setting_is_one_line_naming_the_variable(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert name in message
    assert "\n" not in message


def test_tile_size_auto(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILE_SIZE", "auto")
    assert Settings().tile_size == "auto"
    monkeypatch.setenv("TILE_SIZE", "0")
    assert Settings().tile_size == 0


def test_webhook_events_metrics_and_log_settings(clean_env: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert 23 * 3600 < sum(s.webhook_retry_delays) < 24 * 3600, "retries span about a day"
    assert (s.webhook_allow_networks, s.metrics_token, s.metrics_port) == ((), "", 0)
    assert (s.log_format, s.events_poll_seconds) == ("text", 0.5)
    monkeypatch.setenv("WEBHOOK_RETRY_DELAYS", "500ms, 30s,2m ,1h")
    monkeypatch.setenv("WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8, ::1/128")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    s = Settings()
    assert s.webhook_retry_delays == (0.5, 30.0, 120.0, 3600.0)
    assert s.webhook_allow_networks == ("127.0.0.0/8", "::1/128")
    assert s.log_format == "json"
    for name, bad in (("WEBHOOK_RETRY_DELAYS", "10s,soon"), ("WEBHOOK_ALLOW_NETWORKS", "lan"),
                      ("LOG_FORMAT", "xml")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ConfigError, match=f"invalid setting {name}"):
            load_settings()
        monkeypatch.delenv(name)


def test_blob_store_url_chooses_object_storage_with_the_usual_credentials(
        clean_env: Path) -> None:
    assert Settings().blob_location() is None  # GridFS by default
    (clean_env / ".env").write_text(
        "BLOB_STORE_URL=s3://media/enhancer\nS3_ENDPOINT_URL=http://minio:9000\n"
        "AWS_ACCESS_KEY_ID=minio-user\nAWS_SECRET_ACCESS_KEY=minio-secret\n")
    where = Settings().blob_location()
    assert where is not None
    assert (where.bucket, where.prefix, where.endpoint_url, where.region) == (
        "media", "enhancer/", "http://minio:9000", "us-east-1")
    assert (where.access_key_id, where.secret_access_key) == ("minio-user", "minio-secret")
    (clean_env / ".env").write_text("BLOB_STORE_URL=s3://media/\n")
    where = Settings().blob_location()
    assert where is not None and where.access_key_id is None and where.endpoint_url is None
    (clean_env / ".env").write_text("BLOB_STORE_URL=/var/blobs\n")
    with pytest.raises(ConfigError, match="BLOB_STORE_URL"):
        Settings().blob_location()
