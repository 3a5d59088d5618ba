"""The ``skip_similar`` option's values: off, the default threshold, a threshold in range."""

from __future__ import annotations

from typing import Any

import pytest

from common.skip_similar import DEFAULT_DB, MAX_DB, MESSAGE, MIN_DB, similar_threshold


@pytest.mark.parametrize(("value", "form", "expected"), [
    (None, False, None), (False, False, None), (True, False, DEFAULT_DB),
    (MIN_DB, False, MIN_DB), (MAX_DB, False, MAX_DB), (55, False, 55.0),
    ("True", True, DEFAULT_DB), (" false ", True, None), ("30", True, 30.0),
    ("99.5", True, 99.5),
])
def test_accepted_values(value: Any, form: bool, expected: float | None) -> None:
    assert similar_threshold(value, form=form) == expected


@pytest.mark.parametrize(("value", "form"), [
    ("true", False), ("40", False), (29.99, False), (100.01, False), (float("nan"), False),
    (float("inf"), False), ([40], False), ("", True), ("yes", True), ("1e3", True),
    ("-inf", True),
])
def test_refused_values(value: Any, form: bool) -> None:
    with pytest.raises(ValueError, match="^" + MESSAGE + "$"):
        similar_threshold(value, form=form)
