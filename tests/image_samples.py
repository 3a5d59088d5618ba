"""Real and hostile image files for the image tests, made in memory.

The real ones are crops of scikit-image's sample photos (the astronaut's face, a coffee cup);
the hostile ones are what clients and attackers really send: a GIF under a ``.png`` name, a
JPEG cut off mid-scan, a PNG whose header claims 50000×50000 pixels over a few bytes of data.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
from PIL import Image
from skimage import data


def encode(image: Image.Image | np.ndarray, fmt: str = "PNG", **options: object) -> bytes:
    pil = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    buffer = io.BytesIO()
    pil.save(buffer, format=fmt, **options)  # type: ignore[arg-type]
    return buffer.getvalue()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def photo(width: int, height: int, fmt: str = "PNG") -> bytes:
    """A ``width``×``height`` crop of the coffee photo (no face in it)."""
    crop = np.ascontiguousarray(data.coffee()[150 : 150 + height, 250 : 250 + width])
    return encode(crop, fmt, **({"quality": 92} if fmt == "JPEG" else {}))


def face_photo(size: int = 96) -> bytes:
    """The astronaut's head and shoulders, ``size``×``size``: a real face the detector finds."""
    crop = data.astronaut()[20:250, 120:350]
    return encode(Image.fromarray(crop).resize((size, size), Image.Resampling.LANCZOS))


def rgba_photo(width: int, height: int) -> tuple[bytes, np.ndarray]:
    """A photo crop with a left-to-right alpha ramp; returns (PNG bytes, the alpha plane)."""
    rgb = data.coffee()[150 : 150 + height, 250 : 250 + width]
    alpha = np.tile(np.linspace(0, 255, width).astype(np.uint8), (height, 1))
    return encode(np.dstack([rgb, alpha])), alpha


def gif() -> bytes:
    return encode(Image.fromarray(data.coffee()[:32, :32]).convert("P"), "GIF")


def truncated_jpeg() -> bytes:
    whole = photo(64, 64, "JPEG")
    return whole[: len(whole) // 2]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG (valid signature and CRCs) that claims ``width``×``height`` pixels
    but carries a few bytes of image data: the decompression-bomb shape. Decoding it would
    fail, so a 413 for it proves the header alone decided."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + png_chunk(b"IEND", b""))


def open_image(raw: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(raw))
    image.load()
    return image
