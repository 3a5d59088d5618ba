"""Frame timing from timestamps: exact frame rate, duration and VFR detection.

Containers disagree on what they report (Matroska stores milliseconds, so a 30000/1001 clip
has 33 and 34 ms steps; FFmpeg reports ``30/1`` for a VFR Matroska file), so the timestamps
themselves are the ground truth and the header rate is trusted only when they agree with it.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise


class Timeline:
    """Collects one stream's frame timestamps (in ``time_base`` ticks)."""

    def __init__(self, time_base: Fraction | None) -> None:
        self.time_base = time_base or Fraction(1, 1000)
        self.pts: list[int] = []
        self._last_duration = 0

    @property
    def count(self) -> int:
        return len(self.pts)

    def add(self, pts: int | None, duration: int | None) -> None:
        if pts is None:  # no timestamp at all: one nominal step after the previous frame
            pts = self.pts[-1] + max(1, self._last_duration) if self.pts else 0
        self.pts.append(int(pts))
        if duration:
            self._last_duration = int(duration)

    def steps(self) -> list[int]:
        ordered = sorted(self.pts)
        return [b - a for a, b in pairwise(ordered)]

    def variable(self) -> bool:
        """VFR when frame steps differ by more than one tick (one tick absorbs rounding)."""
        steps = self.steps()
        return bool(steps) and max(steps) - min(steps) > 1

    def last_step(self) -> int:
        steps = self.steps()
        if self._last_duration:
            return self._last_duration
        return sorted(steps)[len(steps) // 2] if steps else 0

    def duration_seconds(self) -> float:
        if not self.pts:
            return 0.0
        span = max(self.pts) - min(self.pts) + self.last_step()
        return float(span * self.time_base)

    def frame_rate(self, average: Fraction | None, guessed: Fraction | None) -> Fraction:
        """The exact rate: the header's when the timestamps agree with it, else measured."""
        seconds = self.duration_seconds()
        measured = Fraction(self.count) / Fraction(seconds) if seconds > 0 else None
        for candidate in (average, guessed):
            if candidate and candidate > 0 and (
                measured is None or abs(float(candidate / measured) - 1.0) < 0.01
            ):
                return Fraction(candidate)
        if measured is None:
            return Fraction(25)
        return measured.limit_denominator(1001)
