"""Interleaved timing and how a set of samples is printed.

On a shared VM whose load moves within minutes, timing one side in a block and then the other
would time the load, not the code: the sides alternate (A B A B ...), one warm-up each first,
and every sample is kept. A figure is the median with its min-max, never the best run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

# Fewer samples than this cannot carry a median worth quoting (issue 25).
MIN_SAMPLES = 5


def interleaved(runs: dict[str, Callable[[], Any]], repeats: int,
                ) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Every run's times in seconds (``repeats`` each, alternating) and its last output."""
    outputs = {name: run() for name, run in runs.items()}  # warm-up, not timed
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            outputs[name] = run()
            times[name].append(time.perf_counter() - started)
    return times, outputs


def too_few(rounds: int) -> str:
    """A warning line when ``rounds`` cannot carry a quotable comparison, else ``""``."""
    if rounds >= MIN_SAMPLES:
        return ""
    return (f"note: {rounds} round(s): fewer than {MIN_SAMPLES}, not a quotable comparison "
            f"(use --repeats {MIN_SAMPLES})")


def spread(values: Sequence[float], unit: str = "s", digits: int = 2) -> str:
    """``median 7.81 s (min-max 7.20-8.93, n=5)``."""
    return (f"median {statistics.median(values):.{digits}f} {unit} "
            f"(min-max {min(values):.{digits}f}-{max(values):.{digits}f}, n={len(values)})")


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """The per-round ratios of two interleaved sides (round i against round i)."""
    return [a / b for a, b in zip(numerators, denominators, strict=True)]
