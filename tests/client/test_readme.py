"""The "Command line" commands of docs/cli.md (linked from the README), run as written against
the real service (only the address changes), on real photos and a real clip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.client.conftest import PASSWORD
from tests.common.media.clips import make_clip
from tests.embedded import MANUAL_URL, ROOT, Service
from tests.image_samples import photo
from tests.ingress.video_clips import count_frames

MANUAL_ACCOUNT = {"username": "miusuario", "email": "usuario@ejemplo.com", "password": PASSWORD}


def readme_commands() -> str:
    """The bash block of the "Command line" section that logs in."""
    section = (ROOT / "docs" / "cli.md").read_text().split("\n## Command line\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```bash\n")[1:]]
    (commands,) = [b for b in blocks if "enhancer login" in b]
    return commands


def test_the_readme_commands_run_as_written(service: Service, tmp_path: Path) -> None:
    assert httpx.post(f"{service.url}/api/auth/register", json=MANUAL_ACCOUNT).status_code == 201
    (tmp_path / "foto.jpg").write_bytes(photo(32, 24, "JPEG"))
    (tmp_path / "fotos").mkdir()
    for name, size in (("a.png", 24), ("b.png", 28)):
        (tmp_path / "fotos" / name).write_bytes(photo(size, size))
    make_clip(tmp_path / "clip.mp4", frames=16, gop=8)
    script = readme_commands().replace(MANUAL_URL, service.url)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "ENHANCER_PASSWORD": PASSWORD,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in (tmp_path / "mejoradas").iterdir()) == [
        "a.png", "b.png", "foto.png"]
    assert sorted(p.name for p in (tmp_path / "anime").iterdir()) == ["a.webp", "b.webp"]
    assert "0 done, 2 skipped, 0 failed" in done.stdout
    assert count_frames((tmp_path / "clip_x2.mkv").read_bytes()) == (16, 128, 96)
    assert count_frames((tmp_path / "clip_x4.mkv").read_bytes()) == (16, 256, 192)
    assert "videos: 2 in all" in done.stdout  # both completed, listed before the rm
    assert not (tmp_path / "config" / "enhancer" / "session.json").exists()  # logged out
