"""Output size rules of the manual, computed before any model runs.

- ``output_width`` and ``output_height`` both given: exactly that size.
- one given: the other follows the input's aspect ratio (rounded, at least 1).
- neither: original × ``scale``.

Callers check the budget first (``check_output_budget``) so an oversized request is refused
with 413 before it costs any GPU time.
"""

from __future__ import annotations

from common.errors import InvalidInput, TooLarge

MIN_SCALE = 1
MAX_SCALE = 4


def validate_scale(scale: int) -> int:
    if isinstance(scale, bool) or not isinstance(scale, int) or not MIN_SCALE <= scale <= MAX_SCALE:
        raise InvalidInput(f"scale debe ser un entero entre {MIN_SCALE} y {MAX_SCALE}")
    return scale


def target_size(width: int, height: int, scale: int, output_width: int | None = None,
                output_height: int | None = None) -> tuple[int, int]:
    """The final (width, height) of an enhanced image of ``width``×``height``."""
    validate_scale(scale)
    for name, value in (("output_width", output_width), ("output_height", output_height)):
        if value is not None and (isinstance(value, bool) or value < 1):
            raise InvalidInput(f"{name} debe ser un entero positivo")
    if output_width is not None and output_height is not None:
        return output_width, output_height
    if output_width is not None:
        return output_width, max(1, round(height * output_width / width))
    if output_height is not None:
        return max(1, round(width * output_height / height)), output_height
    return width * scale, height * scale


def check_output_budget(width: int, height: int, max_pixels: int) -> None:
    """Refuse (413) an output larger than ``max_pixels``."""
    if width * height > max_pixels:
        raise TooLarge(
            f"La imagen de salida ({width}x{height}) supera el máximo de {max_pixels} píxeles")


def check_input_budget(width: int, height: int, max_pixels: int) -> None:
    """Refuse (413) an input larger than ``max_pixels``."""
    if width * height > max_pixels:
        raise TooLarge(
            f"La imagen ({width}x{height}) supera el máximo de {max_pixels} píxeles")


def planned_size(width: int, height: int, scale: int, output_width: int | None,
                 output_height: int | None, *, max_input_pixels: int | None = None,
                 max_output_pixels: int | None = None) -> tuple[int, int]:
    """``target_size`` plus both budget checks: what a caller runs before accepting a job."""
    if max_input_pixels is not None:
        check_input_budget(width, height, max_input_pixels)
    size = target_size(width, height, scale, output_width, output_height)
    if max_output_pixels is not None:
        check_output_budget(*size, max_output_pixels)
    return size
