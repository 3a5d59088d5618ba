"""Decode any input image into float RGB (+ alpha) and encode the result, keeping its nature.

What the client sent comes back in kind: alpha stays (upscaled, not dropped), 16-bit stays
16-bit, grayscale stays grayscale, the ICC profile is carried over and EXIF orientation is
applied (the pixels are rotated, so the output needs no orientation tag). Palette images come
back as RGB(A): re-quantising an upscaled image to 256 colours would undo the enhancement.

Pillow reads 16-bit colour PNGs as 8-bit, so those are decoded with OpenCV; Pillow cannot write
them either, so 16-bit PNGs are written by ``_png16`` (plain zlib, with an iCCP chunk).
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from common.errors import ProcessingError, UnsupportedFormat
from common.sizing import check_input_budget

OUTPUT_FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # cv2's RGB→gray weights
_EXIF_ORIENTATION = 0x0112


@dataclass
class DecodedImage:
    rgb: np.ndarray  # float32 H×W×3, 0..1 (gray images are replicated to 3 channels)
    alpha: np.ndarray | None  # float32 H×W, 0..1
    gray: bool
    bit_depth: int  # 8 or 16
    icc_profile: bytes | None

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to an H×W[×C] array, exactly as ``ImageOps.exif_transpose``."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(arr)) if op else arr


def _is_png16(data: bytes) -> bool:
    return data[:8] == _PNG_SIGNATURE and len(data) > 24 and data[24] == 16


def _from_pil(pil: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(H×W×C float32 0..1 colour, alpha or None, bit depth) from any Pillow mode."""
    mode = pil.mode
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(pil).astype(np.float32)
        return np.clip(values / 65535.0, 0.0, 1.0)[..., None], None, 16
    if mode == "F":
        values = np.asarray(pil).astype(np.float32)
        return np.clip(values / 255.0, 0.0, 1.0)[..., None], None, 8
    if mode == "P":
        palette_mode = pil.palette.mode if pil.palette is not None else ""
        has_alpha = "transparency" in pil.info or "A" in palette_mode
        pil = pil.convert("RGBA" if has_alpha else "RGB")
    elif mode in {"1", "L"}:
        pil = pil.convert("L")
    elif mode in {"LA", "La"}:
        pil = pil.convert("LA")
    elif mode in {"RGBA", "RGBa", "PA"}:
        pil = pil.convert("RGBA")
    elif mode != "RGB":
        pil = pil.convert("RGB")
    arr = np.asarray(pil).astype(np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[2] in (2, 4):
        return arr[..., :-1], arr[..., -1], 8
    return arr, None, 8


def _from_cv2_16bit(data: bytes) -> tuple[np.ndarray, np.ndarray | None] | None:
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16:
        return None
    values = arr.astype(np.float32) / 65535.0
    if values.ndim == 2:
        return values[..., None], None
    if values.shape[2] == 4:
        return values[..., 2::-1], values[..., 3]
    return values[..., ::-1], None


def decode_image(source: bytes | Image.Image, *, max_pixels: int | None = None) -> DecodedImage:
    """Decode bytes or a Pillow image; raise ``UnsupportedFormat`` / ``TooLarge`` on bad input."""
    data = source if isinstance(source, bytes | bytearray | memoryview) else None
    try:
        with warnings.catch_warnings():
            # Our own pixel budget replaces Pillow's decompression-bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            pil = Image.open(io.BytesIO(bytes(data))) if data is not None else source
            assert isinstance(pil, Image.Image)
            if max_pixels is not None:
                check_input_budget(pil.width, pil.height, max_pixels)
            pil.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise UnsupportedFormat(f"Formato no soportado: {exc}") from None
    icc = pil.info.get("icc_profile") if pil.mode != "CMYK" else None
    orientation = int(pil.getexif().get(_EXIF_ORIENTATION, 1))
    gray = pil.mode in _GRAY_MODES
    decoded16 = _from_cv2_16bit(bytes(data)) if data is not None and _is_png16(data) else None
    if decoded16 is not None:
        colour, alpha = decoded16
        bit_depth = 16
    else:
        colour, alpha, bit_depth = _from_pil(pil)
    if gray or colour.shape[2] == 1:
        gray = True
        colour = np.repeat(colour[..., :1], 3, axis=2)
    colour = orient(colour, orientation)
    alpha = orient(alpha, orientation) if alpha is not None else None
    return DecodedImage(np.ascontiguousarray(colour, dtype=np.float32),
                        None if alpha is None else np.ascontiguousarray(alpha, np.float32),
                        gray, bit_depth, icc or None)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb @ _LUMA, dtype=np.float32)


def quantize(values: np.ndarray, bit_depth: int) -> np.ndarray:
    top = 65535.0 if bit_depth == 16 else 255.0
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    return np.rint(np.clip(values, 0.0, 1.0) * top).astype(dtype)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png16(arr: np.ndarray, icc: bytes | None) -> bytes:
    """A 16-bit PNG of an H×W×C uint16 array (C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA)."""
    height, width, channels = arr.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = arr.astype(">u2").reshape(height, width * channels).view(np.uint8)
    filtered = raw.copy()
    filtered[1:] -= raw[:-1]  # PNG "Up" filter (type 2), bytewise modulo 256
    rows = np.concatenate([np.full((height, 1), 2, np.uint8), filtered], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    parts = [_PNG_SIGNATURE, _chunk(b"IHDR", header)]
    if icc:
        parts.append(_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc)))
    parts += [_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)), _chunk(b"IEND", b"")]
    return b"".join(parts)


def encode_image(rgb: np.ndarray, alpha: np.ndarray | None, *, gray: bool, bit_depth: int,
                 icc_profile: bytes | None, output_format: str = "png") -> bytes:
    """Encode float32 H×W×3 (+ H×W alpha) in 0..1 as PNG (default), JPEG or WEBP."""
    fmt = OUTPUT_FORMATS.get(output_format.lower())
    if fmt is None:
        raise UnsupportedFormat(f"Formato de salida no soportado: {output_format}")
    if fmt == "JPEG" and alpha is not None:
        rgb = rgb * alpha[..., None] + (1.0 - alpha[..., None])  # JPEG has no alpha: on white
        alpha = None
    if fmt == "WEBP":
        gray = False  # WEBP has no grayscale mode
    colour = to_gray(rgb)[..., None] if gray else rgb
    planes = colour if alpha is None else np.concatenate([colour, alpha[..., None]], axis=2)
    if fmt == "PNG" and bit_depth == 16:
        return _png16(quantize(planes, 16), icc_profile)
    pixels = quantize(planes, 8)
    # Pillow infers L / LA / RGB / RGBA from the uint8 array's channel count.
    image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    options: dict[str, object] = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "PNG":
        options["compress_level"] = 6
    else:
        options["quality"] = 95
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt, **options)
    except (OSError, ValueError) as exc:  # the same pixels fail the same way: not retried
        raise ProcessingError(f"no se pudo codificar la imagen en {fmt}: {exc}") from None
    return buffer.getvalue()


def resize_to(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """High-quality resize of H×W[×C] float32: Lanczos up, area down; no-op at equal size."""
    if values.shape[1] == width and values.shape[0] == height:
        return values
    shrinking = width <= values.shape[1] and height <= values.shape[0]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    out = cv2.resize(values, (width, height), interpolation=interp)
    return np.clip(out, 0.0, 1.0, out=out)
