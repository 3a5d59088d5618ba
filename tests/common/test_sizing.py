"""Output-size and pixel-budget rules, shared by the API checks, the engine and the probe."""

from __future__ import annotations

import pytest

from common.errors import InvalidInput, TooLarge
from common.sizing import check_budget, planned_size, target_size


def test_target_size_rules() -> None:
    assert target_size(640, 480, 4) == (2560, 1920)
    assert target_size(640, 480, 2, 1920, 1080) == (1920, 1080)
    assert target_size(640, 480, 4, output_width=1000) == (1000, 750)
    assert target_size(640, 480, 4, output_height=100) == (133, 100)
    assert target_size(1000, 1, 4, output_width=10) == (10, 1)  # never 0
    with pytest.raises(InvalidInput):
        target_size(10, 10, 0)


def test_budgets_refuse_with_the_size_in_the_message() -> None:
    check_budget(100, 100, 100 * 100, "La salida")  # exactly at the budget is fine
    with pytest.raises(TooLarge, match=r"^La salida \(101x100\) supera el máximo de 10000 "):
        check_budget(101, 100, 100 * 100, "La salida")
    assert planned_size(30, 20, 2, None, None, max_input_pixels=600,
                        max_output_pixels=2400) == (60, 40)
    with pytest.raises(TooLarge, match=r"^La imagen \(31x20\)"):
        planned_size(31, 20, 2, None, None, max_input_pixels=600)
    with pytest.raises(TooLarge, match=r"^La imagen de salida \(62x40\)"):
        planned_size(31, 20, 2, None, None, max_output_pixels=2400)
