"""The repository ships the user manual; its copy must not drift from the contract's source."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.embedded import MANUAL, ROOT
from tests.services import unavailable

SOURCE = ROOT.parent / "shared" / "spec" / "user-manual.es.md"


def test_shipped_manual_matches_the_contract() -> None:
    if not SOURCE.exists():
        unavailable(f"the contract's manual ({SOURCE})")  # skips locally, fails under CI
    assert MANUAL.read_text() == Path(SOURCE).read_text()


def test_a_missing_contract_fails_under_ci(tmp_path: Path) -> None:
    """Run from a checkout with no ``../shared`` beside it: CI must fail, not skip."""
    checkout = tmp_path / "repo"
    for name in ("tests/__init__.py", "tests/embedded.py", "tests/services.py",
                 "tests/test_manual_copy.py", "docs/user-manual.es.md", "pyproject.toml",
                 "bench/_support/__init__.py", "bench/_support/service.py"):
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, checkout / name)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "tests/test_manual_copy.py::test_shipped_manual_matches_the_contract"]
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    local = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True,
                           timeout=120, check=False)
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout
    ci = subprocess.run(command, cwd=checkout, env={**env, "CI": "true"}, capture_output=True,
                        text=True, timeout=120, check=False)
    assert ci.returncode == 1 and "CI must run this test for real" in ci.stdout, ci.stdout
