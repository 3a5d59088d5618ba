"""The repository ships the user manual; its copy must not drift from the contract's source."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.embedded import MANUAL, ROOT

SOURCE = ROOT.parent / "shared" / "spec" / "user-manual.es.md"


def test_shipped_manual_matches_the_contract() -> None:
    if not SOURCE.exists():
        pytest.skip(f"{SOURCE} is not on this machine")
    assert MANUAL.read_text() == Path(SOURCE).read_text()
