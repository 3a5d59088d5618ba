"""Model weight files: pinned official releases, verified downloads, local imports, resolution.

Every official file is pinned by URL, size and SHA-256; a file that does not match is never
used. Downloads stream into a temporary file inside the models directory and are moved into
place with ``os.replace`` only after both checks pass, so a crash or a bad transfer leaves no
file a later run could mistake for a good one.

Besides the official ``<name>.pth`` the resolver accepts two local variants, which cannot carry
the official hash and therefore live under their own names:
``<stem>.local.pth`` (imported with ``import --unofficial``) and ``<stem>.ncnn.pth`` (converted
from the ncnn release by ``convert-ncnn``). The verified official file always wins.

CLI: ``python -m pipeline.upscale.engine.weights {fetch,import,convert-ncnn,list} --help``
(``weights/cli.py``, run through ``weights/__main__.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from tqdm import tqdm

from common.errors import ModelUnavailable

DEFAULT_BASE_URL = "https://github.com"
BASE_URL_ENV = "WEIGHTS_BASE_URL"
FACE_WEIGHTS = "GFPGANv1.4.pth"
LOCAL_SUFFIX = ".local.pth"
CONVERTED_SUFFIX = ".ncnn.pth"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightFile:
    filename: str
    owner: str
    repo: str
    tag: str
    size: int
    sha256: str

    def url(self, base_url: str | None = None) -> str:
        base = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        return f"{base}/{self.owner}/{self.repo}/releases/download/{self.tag}/{self.filename}"

    @property
    def stem(self) -> str:
        return self.filename.removesuffix(".pth")

    def local_name(self) -> str:
        return self.stem + LOCAL_SUFFIX

    def converted_name(self) -> str:
        return self.stem + CONVERTED_SUFFIX


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


def fetch_command(filename: str, models_dir: Path) -> str:
    return (f"python -m pipeline.upscale.engine.weights fetch {filename} "
            f"--models-dir {models_dir}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


# A verified file is hashed once per process; (size, mtime) notices a file replaced since.
_verified: dict[Path, tuple[int, int]] = {}
_verified_lock = threading.Lock()


def is_verified(path: Path, wf: WeightFile) -> bool:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    key = (stat.st_size, stat.st_mtime_ns)
    with _verified_lock:
        if _verified.get(path) == key:
            return True
    if stat.st_size != wf.size or sha256_of(path) != wf.sha256:
        return False
    with _verified_lock:
        _verified[path] = key
    return True


@contextlib.contextmanager
def atomic_target(dest: Path) -> Iterator[Path]:
    """A temp file beside ``dest``; moved onto ``dest`` on success, deleted on any failure."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.chmod(0o644)  # mkstemp makes it 0600; other services read the models dir
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download(wf: WeightFile, models_dir: Path, *, base_url: str | None = None,
             progress: bool = True, timeout_s: float = 60.0) -> Path:
    """Fetch ``wf`` into ``models_dir``, verified, atomically; raise ``ModelUnavailable``."""
    dest = models_dir / wf.filename
    url = wf.url(base_url)
    try:
        with atomic_target(dest) as tmp:
            digest = hashlib.sha256()
            received = 0
            with (httpx.stream("GET", url, follow_redirects=True, timeout=timeout_s) as resp,
                  tmp.open("wb") as out,
                  tqdm(total=wf.size, unit="B", unit_scale=True, desc=wf.filename,
                       disable=not progress) as bar):
                resp.raise_for_status()
                for block in resp.iter_bytes(_CHUNK):
                    received += len(block)
                    if received > wf.size:
                        raise ValueError(f"more than the expected {wf.size} bytes")
                    digest.update(block)
                    out.write(block)
                    bar.update(len(block))
            if received != wf.size:
                raise ValueError(f"got {received} bytes, expected {wf.size}")
            if digest.hexdigest() != wf.sha256:
                raise ValueError(f"SHA-256 {digest.hexdigest()} does not match {wf.sha256}")
    except (httpx.HTTPError, OSError, ValueError) as exc:
        raise ModelUnavailable(
            f"no se pudo descargar {wf.filename} desde {url}: {exc}. "
            f"Descárguelo con: {fetch_command(wf.filename, models_dir)}") from exc
    with _verified_lock:
        stat = dest.stat()
        _verified[dest] = (stat.st_size, stat.st_mtime_ns)
    return dest


def find_local(filename: str, models_dir: Path) -> Path | None:
    """The best usable file for ``filename`` already on disk, without any network."""
    wf = official(filename)
    if is_verified(models_dir / wf.filename, wf):
        return models_dir / wf.filename
    for name in (wf.local_name(), wf.converted_name()):
        if (models_dir / name).is_file():
            return models_dir / name
    return None


def resolve(filename: str, models_dir: Path, *, auto_fetch: bool = True,
            base_url: str | None = None) -> Path:
    """Path of the weights to load for ``filename``, downloading the official file if allowed."""
    found = find_local(filename, models_dir)
    if found is not None:
        return found
    wf = official(filename)
    if auto_fetch:
        return download(wf, models_dir, base_url=base_url, progress=False)
    raise ModelUnavailable(
        f"Modelo no disponible: {filename} no está en {models_dir}. "
        f"Descárguelo con: {fetch_command(filename, models_dir)}")


def import_file(filename: str, source: Path, models_dir: Path, *,
                unofficial: bool = False) -> Path:
    """Copy a local file in: the official name if its hash matches, else (if allowed) ``.local``."""
    wf = official(filename)
    if source.stat().st_size == wf.size and sha256_of(source) == wf.sha256:
        dest = models_dir / wf.filename
    elif unofficial:
        dest = models_dir / wf.local_name()
    else:
        raise ModelUnavailable(
            f"{source} is not the official {filename} (size/SHA-256 differ); "
            "pass --unofficial to import it as a local variant")
    with atomic_target(dest) as tmp:
        shutil.copyfile(source, tmp)
    return dest
