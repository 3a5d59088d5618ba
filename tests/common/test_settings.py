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


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Run from an empty folder with none of our variables set, so only the test's file counts."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_are_the_manuals(clean_env: Path) -> None:
    s = Settings()
    assert (s.mongo_host, s.mongo_port, s.mongo_db) == ("192.168.86.10", 27017, "image_enhancer")
    assert (s.api_host, s.api_port, s.api_debug) == ("0.0.0.0", 8888, False)
    assert (s.jwt_access_token_expire_minutes, s.jwt_refresh_token_expire_days) == (30, 7)
    assert s.use_gpu is True
    assert (s.default_scale, s.tile_size, s.tile_pad) == (4, 512, 10)
    assert (s.network_name, s.network_subnet, s.network_gateway) == (
        "ImagesNet",
        "192.168.86.0/24",
        "192.168.86.1",
    )
    assert (s.mongodb_ip, s.api_ip) == ("192.168.86.10", "192.168.86.20")


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


@pytest.mark.parametrize(
    "secret", ["", "your-super-secret-jwt-key-change-in-production", "short-but-not-placeholder"]
)
def test_production_refuses_weak_jwt_secret(clean_env: Path, secret: str) -> None:
    s = Settings(jwt_secret_key=secret)
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        s.jwt_secret(embedded=False)


def test_embedded_generates_a_secret_once_and_keeps_it(clean_env: Path) -> None:
    s = Settings(jwt_secret_key="your-super-secret-jwt-key-change-in-production", data_dir="d")
    first = s.jwt_secret(embedded=True)
    assert first != s.jwt_secret_key
    assert len(first) >= 32
    stored = clean_env / "d" / "jwt_secret"
    assert stored.read_text() == first
    assert stored.stat().st_mode & 0o077 == 0, "the key file must not be readable by others"
    assert Settings(data_dir="d").jwt_secret(embedded=True) == first


def test_a_strong_secret_is_used_as_given(clean_env: Path) -> None:
    key = "k" * 40
    s = Settings(jwt_secret_key=key)
    assert s.jwt_secret(embedded=False) == key
    assert s.jwt_secret(embedded=True) == key


def test_tile_size_auto(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILE_SIZE", "auto")
    assert Settings().tile_size == "auto"
    monkeypatch.setenv("TILE_SIZE", "0")
    assert Settings().tile_size == 0
