"""The API's token key: a real JWT_SECRET_KEY, or (embedded run) a generated one kept 0600."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.errors import ConfigError
from common.settings import Settings
from ingress.auth.secret import resolve_jwt_secret


@pytest.mark.parametrize(
    "secret", ["", "your-super-secret-jwt-key-change-in-production", "short-but-not-placeholder"]
)
def test_production_refuses_weak_jwt_secret(clean_env: Path, secret: str) -> None:
    s = Settings(jwt_secret_key=secret)
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        resolve_jwt_secret(s, embedded=False)


def test_embedded_generates_a_secret_once_and_keeps_it(clean_env: Path) -> None:
    s = Settings(jwt_secret_key="your-super-secret-jwt-key-change-in-production", data_dir="d")
    first = resolve_jwt_secret(s, embedded=True)
    assert first != s.jwt_secret_key
    assert len(first) >= 32
    stored = clean_env / "d" / "jwt_secret"
    assert stored.read_text() == first
    assert stored.stat().st_mode & 0o077 == 0, "the key file must not be readable by others"
    assert resolve_jwt_secret(Settings(data_dir="d"), embedded=True) == first
    assert [p.name for p in stored.parent.iterdir()] == ["jwt_secret"]  # no temp file left


def test_a_strong_secret_is_used_as_given(clean_env: Path) -> None:
    key = "k" * 40
    s = Settings(jwt_secret_key=key)
    assert resolve_jwt_secret(s, embedded=False) == key
    assert resolve_jwt_secret(s, embedded=True) == key


# Audit hooks cannot be removed, so one hook records into whichever list is active.
_RECORDING: list[list[tuple[str, tuple[Any, ...]]]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _RECORDING and event in ("open", "os.chmod"):
        _RECORDING[-1].append((event, args))


sys.addaudithook(_audit)


@pytest.fixture
def file_events() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    events: list[tuple[str, tuple[Any, ...]]] = []
    _RECORDING.append(events)
    try:
        yield events
    finally:
        _RECORDING.remove(events)


def test_the_generated_key_file_is_private_from_its_creation(
    clean_env: Path, file_events: list[tuple[str, tuple[Any, ...]]]
) -> None:
    """With umask 0, a file is created with exactly the mode its creator asks for; the key
    file ends up 0600 without any chmod, so it was never readable by others, not even for a
    moment between writing the key and tightening the mode."""
    old = os.umask(0)
    try:
        resolve_jwt_secret(Settings(data_dir="d"), embedded=True)
    finally:
        os.umask(old)
    stored = clean_env / "d" / "jwt_secret"
    assert stored.stat().st_mode & 0o777 == 0o600
    ours = [(event, args) for event, args in file_events if "jwt_secret" in str(args[0])]
    assert [event for event, _ in ours] == ["open"], ours  # created once, never chmod'ed
    flags = ours[0][1][2]
    assert flags & os.O_CREAT and flags & os.O_EXCL
