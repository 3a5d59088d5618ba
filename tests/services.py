"""How tests treat an absent external service: skip locally, fail under CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def unavailable(what: str) -> NoReturn:
    """Skip the test when ``what`` is missing locally; fail it when ``CI`` is set."""
    message = f"{what} is not available"
    if in_ci():
        pytest.fail(f"{message}, and CI must run this test for real", pytrace=False)
    pytest.skip(message)
