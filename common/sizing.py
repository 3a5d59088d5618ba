"""Output-size and pixel-budget rules of the manual, decided before any model runs.

- ``output_width`` and ``output_height`` both given: exactly that size.
- one given: the other follows the input's aspect ratio (rounded, at least 1).
- neither: original × ``scale``.

The API applies them to an image's header and a video's first frame (413 before anything is
stored), the engine applies them again before it runs (a library caller gets the same refusal),
so a request is refused the same way wherever it is checked.
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


def check_budget(width: int, height: int, max_pixels: int, subject: str) -> None:
    """Refuse (413) a ``width``×``height`` picture over ``max_pixels``; ``subject`` names it
    in the message ("La imagen de salida", "La resolución", ...)."""
    if width * height > max_pixels:
        raise TooLarge(
            f"{subject} ({width}x{height}) supera el máximo de {max_pixels} píxeles")


def check_input_budget(width: int, height: int, max_pixels: int) -> None:
    check_budget(width, height, max_pixels, "La imagen")


def check_output_budget(width: int, height: int, max_pixels: int) -> None:
    check_budget(width, height, max_pixels, "La imagen de salida")


# The widest side each output format's encoder can write (libwebp: 16383, libjpeg: 65500;
# PNG's 2^31-1 is past any budget). Past it the encoder fails every time, after the model ran.
FORMAT_MAX_SIDE = {"webp": 16383, "jpeg": 65500}


def check_output_format(width: int, height: int, output_format: str) -> None:
    """Refuse (400) an output its format cannot hold, before any work is done."""
    limit = FORMAT_MAX_SIDE.get(output_format.lower())
    if limit is not None and max(width, height) > limit:
        raise InvalidInput(
            f"La imagen de salida ({width}x{height}) supera el máximo de {limit} píxeles por "
            f"lado del formato {output_format.upper()}; use output_format png o un tamaño menor")


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
