"""``pip install ./client`` in a fresh virtual environment without torch gives a working
``enhancer``: installed from PyPI like a user would, then used against the real service."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.client.conftest import Account
from tests.embedded import ROOT, Service
from tests.image_samples import photo

HEAVY = ("torch", "numpy", "fastapi", "pymongo", "pillow", "av")


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=600, **kwargs)  # type: ignore[call-overload]


def test_pip_install_without_torch(tmp_path: Path, service: Service, account: Account) -> None:
    # A copy, so the build leaves nothing (build/, *.egg-info) in the working tree.
    source = tmp_path / "client"
    shutil.copytree(ROOT / "client", source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", venv).returncode == 0
    python, enhancer = venv / "bin" / "python", venv / "bin" / "enhancer"
    installed = run(python, "-m", "pip", "install", "--disable-pip-version-check", "-q",
                    source)
    assert installed.returncode == 0, installed.stderr

    packages = run(python, "-m", "pip", "list", "--format=json")
    names = {p["name"].lower() for p in json.loads(packages.stdout)}
    assert {"enhancer-client", "httpx", "tqdm"} <= names
    assert not names & set(HEAVY), names
    assert "No module named 'torch'" in run(python, "-c", "import torch").stderr

    assert run(enhancer, "--version").stdout.strip() == "enhancer 0.1.0"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "ENHANCER_URL": service.url}
    models = run(enhancer, "models", "--json", env=env)
    assert models.returncode == 0, models.stderr
    assert len(json.loads(models.stdout)) == 5
    login = run(enhancer, "login", "--email", account.email, "--password-stdin", env=env,
                input=account.password + "\n")
    assert login.returncode == 0, login.stderr
    (tmp_path / "foto.png").write_bytes(photo(24, 24))
    done = run(enhancer, "image", "foto.png", "-m", "anime_video", "-s", "2", "-o", "out",
               "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["width"] == 48
    assert (tmp_path / "out" / "foto.png").stat().st_size > 0
