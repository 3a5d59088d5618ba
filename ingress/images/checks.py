"""Is it an image we take, how big is it, and how big will the result be: all before storing.

1. ``sniff``: the format from the content's magic bytes, never from the filename, so a GIF
   named ``x.png`` is refused as ``gif``. Only PNG, JPEG and WEBP go further.
2. ``read_header``: Pillow's lazy open reads the header only; the size is turned by the EXIF
   orientation the way the engine will turn the pixels (orientations 5–8 swap width and
   height), so the planned output matches what the worker produces.
3. Budgets (input pixels, planned output pixels) → 413, decided from the header alone: a PNG
   claiming 50000×50000 is never decoded; an output wider than its format can hold (WEBP
   16383 px a side) → 400.
4. ``verify_decode``: one full decode catches truncated and corrupt files here,
   as a 400, instead of as a failed job later.

All of it runs in a worker thread (``check_image``).
"""

from __future__ import annotations

import asyncio
import io
import logging
import struct
from dataclasses import dataclass

from PIL import Image

from common.errors import InvalidInput, TooLarge, UnsupportedFormat
from common.settings import Settings
from common.sizing import check_output_format, planned_size
from ingress.images.formats import ACCEPTED, sniff
from ingress.images.upload import INVALID_DATA, ImageUpload

log = logging.getLogger(__name__)

_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_ORIENTATION = 0x0112
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
# Pillow raises the error past twice its MAX_IMAGE_PIXELS and warns past it; a warning only
# arrives here as an exception where warnings are errors (tests). Either way our budget is
# lower, so both are 413s. (No catch_warnings: it is not thread-safe.)
_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)


@dataclass(frozen=True)
class CheckedImage:
    format: str  # "png" | "jpeg" | "webp"
    content_type: str
    width: int  # after EXIF orientation
    height: int
    output_width: int  # planned final size
    output_height: int


def _bomb_limit(settings: Settings) -> int:
    # Pillow refuses to open anything over twice its MAX_IMAGE_PIXELS, whatever our budget;
    # the worker decodes with Pillow too, so that is the real ceiling.
    ceiling = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else settings.max_input_pixels
    return min(settings.max_input_pixels, ceiling)


def _open(data: bytes, fmt: str) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[fmt]])


def _too_large(settings: Settings) -> TooLarge:
    return TooLarge(f"La imagen supera el máximo de {_bomb_limit(settings)} píxeles")


def _late_png_exif(data: bytes) -> bytes | None:
    """The payload of an ``eXIf`` chunk placed after the image data, which Pillow's lazy
    open does not reach (it stops at the first IDAT); chunks are skipped, not inflated."""
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"eXIf":
            return data[offset + 8 : offset + 8 + length]
        if kind == b"IEND":
            return None
        offset += 12 + length
    return None


def _orientation(image: Image.Image, data: bytes, fmt: str) -> int:
    if fmt == "png" and "exif" not in image.info:
        # PngImageFile.getexif() would decode the whole image to look for a late eXIf;
        # hand it the chunk found by walking the file instead (None: there is none).
        image.info["exif"] = _late_png_exif(data)
    value = image.getexif().get(_ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def read_header(data: bytes, settings: Settings) -> tuple[str, int, int]:
    """(format, width, height after orientation) from the header; 400 / 413 otherwise."""
    fmt = sniff(data)
    if fmt is None:
        raise InvalidInput(INVALID_DATA)
    if fmt not in ACCEPTED:
        raise UnsupportedFormat(f"Formato no soportado: {fmt}")
    try:
        with _open(data, fmt) as image:
            width, height = image.size
            orientation = _orientation(image, data, fmt)
    except _BOMB:
        raise _too_large(settings) from None
    except Exception as exc:  # hostile input may break any parser in any way
        log.info("unreadable %s header: %s", fmt, exc)
        raise InvalidInput(INVALID_DATA) from None
    if width < 1 or height < 1:
        raise InvalidInput(INVALID_DATA)
    if orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    return fmt, width, height


def verify_decode(data: bytes, fmt: str, settings: Settings) -> None:
    """Decode every pixel once (then drop them); truncated or corrupt data is a 400."""
    try:
        with _open(data, fmt) as image:
            image.load()
    except _BOMB:
        raise _too_large(settings) from None
    except Exception as exc:  # truncated files raise OSError; corrupt ones anything
        log.info("undecodable %s image: %s", fmt, exc)
        raise InvalidInput(INVALID_DATA) from None


async def check_image(upload: ImageUpload, settings: Settings) -> CheckedImage:
    """``checked`` off the event loop: even the header walk of a hostile file may take long."""
    return await asyncio.to_thread(checked, upload, settings)


def checked(upload: ImageUpload, settings: Settings) -> CheckedImage:
    """Format, sizes and budgets from the header, then (only within budget) the full decode."""
    fmt, width, height = read_header(upload.data, settings)
    output = planned_size(
        width,
        height,
        upload.scale,
        upload.output_width,
        upload.output_height,
        max_input_pixels=settings.max_input_pixels,
        max_output_pixels=settings.max_output_pixels,
    )
    check_output_format(*output, upload.output_format)
    verify_decode(upload.data, fmt, settings)
    return CheckedImage(fmt, ACCEPTED[fmt], width, height, *output)
