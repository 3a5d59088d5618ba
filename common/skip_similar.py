"""The ``skip_similar`` request option of a video: the near-repeat threshold in dB PSNR.

A frame within this PSNR of the last frame the model really processed reuses that frame's
output (``pipeline.upscale.repeats``). Exact repeats are always reused and need no option.
The API accepts ``true`` (the default threshold), ``false`` or absent (off), or a number of
dB in ``[MIN_DB, MAX_DB]``; in a multipart form the same as text.
"""

from __future__ import annotations

import math
from typing import Any

# 40 dB is a mean squared error of 6.5 on 0..255: mild noise (σ ≈ 2.5) or a good encoder's
# re-coding of one held drawing stays above it, a new drawing of a moving shot falls well
# below (docs/repeated-frames.md has the figures and the limits).
DEFAULT_DB = 40.0
# Below 30 dB clearly different pictures would pass for one; 100 dB is as good as exact.
MIN_DB = 30.0
MAX_DB = 100.0
MESSAGE = (f"skip_similar debe ser true, false o un umbral en dB entre {MIN_DB:g} y "
           f"{MAX_DB:g}")


def similar_threshold(value: Any, *, form: bool = False) -> float | None:
    """The threshold in dB a request's ``skip_similar`` asks for; None: off.

    Raises ValueError (with the API's Spanish message) for anything else: a JSON string,
    a number out of range, a form field that is neither a boolean nor a number.
    """
    if value is None:
        return None
    if isinstance(value, str) and form:
        text = value.strip().lower()
        if text in ("true", "false"):
            value = text == "true"
        else:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(MESSAGE) from None
    if isinstance(value, bool):
        return DEFAULT_DB if value else None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(MESSAGE)
    if not MIN_DB <= value <= MAX_DB:
        raise ValueError(MESSAGE)
    return float(value)
