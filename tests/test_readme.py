"""The README's "A first request" block, run as written with bash, curl and jq against the
real embedded service (only its address changes) with real general_x4 weights."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.embedded import MANUAL_URL, ROOT, embedded_service
from tests.image_models import OFFLINE_WEIGHTS, image_models, private_copy
from tests.image_samples import photo

__all__ = ["image_models"]  # the session fixture, imported so pytest finds it here


def first_request_block() -> str:
    section = (ROOT / "README.md").read_text().split("\n## A first request\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    return block


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("curl") is None,
                    reason="needs curl and jq (scripts/ensure-test-tools.sh installs jq)")
def test_the_readmes_first_request_runs_as_written(tmp_path: Path, image_models: Path) -> None:
    (tmp_path / "foto.jpg").write_bytes(photo(48, 32, "JPEG"))
    with embedded_service(tmp_path, MODELS_DIR=str(private_copy(image_models, tmp_path)),
                          USE_GPU="FALSE", **OFFLINE_WEIGHTS) as service:
        script = first_request_block().replace(MANUAL_URL, service.url)
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    with Image.open(io.BytesIO((tmp_path / "foto_x2.png").read_bytes())) as result:
        assert (result.format, result.size) == ("PNG", (96, 64))
