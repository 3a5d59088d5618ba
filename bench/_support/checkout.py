"""A clean checkout of this repository, run with the README's first command.

``clean_checkout`` copies what ``git clone`` would give (tracked files, plus new files not yet
committed and not ignored: what the next commit will hold), never ``data/``, ``models/`` or any
other ignored output. Creating a virtual environment takes minutes, so the copy's ``.venv``
borrows this checkout's installed packages: its ``bin`` and ``lib`` link to ours and it keeps
its own ``pyvenv.cfg`` and install stamp, so ``scripts/setup.sh`` in the copy finds itself
up to date and never installs into ours. The copy's own code is what runs: Python puts the
script's folder (or, for ``-m``, the working folder) before site-packages.

``served`` runs ``./scripts/serve.sh`` there, exactly as the README's quick start says, and
``first_image`` is the manual's first image request (register, login, enhance).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench._support.service import wait_healthy

ROOT = Path(__file__).resolve().parents[2]
SERVE = "./scripts/serve.sh"


def _stamp(folder: Path) -> str:
    """What ``scripts/setup.sh`` writes once the install matches these files."""
    parts = [folder / "pyproject.toml", folder / "constraints.txt",
             folder / "client" / "pyproject.toml"]
    return hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()


def clean_checkout(dest: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a deleted-but-tracked file is not in the next commit
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    ours = ROOT / ".venv"
    if (ours / ".installed[dev]").read_text().strip() != _stamp(ROOT):
        raise RuntimeError("this checkout's .venv is out of date: run scripts/setup.sh --dev")
    venv = dest / ".venv"
    venv.mkdir()
    shutil.copy2(ours / "pyvenv.cfg", venv / "pyvenv.cfg")
    for name in ("bin", "lib", "include"):
        (venv / name).symlink_to(ours / name)
    (venv / ".installed").write_text(_stamp(dest) + "\n")
    return dest


@dataclass(frozen=True)
class Served:
    url: str
    log: Path
    started: float  # time.monotonic() when the command was run

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@contextmanager
def served(checkout: Path, port: int, *args: str, **env: str) -> Iterator[Served]:
    """``./scripts/serve.sh --host 127.0.0.1 --port PORT *args`` in ``checkout`` until healthy;
    SIGTERM (what Ctrl-C and ``docker stop`` send) on exit."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("MONGO_URL", "AMQP_URL", "JWT_SECRET_KEY", "MODELS_DIR", "DATA_DIR",
                          "API_PORT", "API_HOST")}
    log = checkout / "serve.log"
    started = time.monotonic()
    with log.open("wb") as sink:
        proc = subprocess.Popen([SERVE, "--host", "127.0.0.1", "--port", str(port), *args],
                                cwd=checkout, env={**clean, **env}, stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, log, 300)
        yield Served(url, log, started)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def photo_png(size: int = 64) -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.coffee()[150 : 150 + size, 250 : 250 + size]).save(buffer, "PNG")
    return buffer.getvalue()


def first_image(url: str, *, event_hooks: dict[str, list[Any]] | None = None,
                **fields: object) -> httpx.Response:
    """The manual's first steps: register (once), log in, ``POST /api/images/enhance``."""
    account = {"username": "miusuario", "email": "usuario@ejemplo.com",
               "password": "mipassword123"}
    with httpx.Client(base_url=url, timeout=300, event_hooks=event_hooks) as http:
        registered = http.post("/api/auth/register", json=account)
        assert registered.status_code in (201, 409), registered.text  # 409: done before
        login = http.post("/api/auth/login", json={"email": account["email"],
                                                   "password": account["password"]})
        token = login.json()["tokens"]["access_token"]
        return http.post("/api/images/enhance", headers={"Authorization": f"Bearer {token}"},
                         json={"image_base64": base64.b64encode(photo_png()).decode(),
                               "filename": "mi_imagen.png", **fields})
