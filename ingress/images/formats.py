"""Naming an image format from its first bytes, so refusals can say what was sent.

Only PNG, JPEG and WEBP are processed; the other signatures are here so that a GIF, BMP,
TIFF, HEIC, AVIF... is answered "Formato no soportado: <format>" rather than "Datos de
imagen inválidos". Anything unrecognised is treated as not an image at all.
"""

from __future__ import annotations

import re
import struct

ACCEPTED = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}

_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"8BPS", "psd"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jpeg2000"),
    (b"\xff\x4f\xff\x51", "jpeg2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jxl"),
    (b"\xff\x0a", "jxl"),
    (b"qoif", "qoi"),
    (b"DDS ", "dds"),
    (b"icns", "icns"),
    (b"v/1\x01", "exr"),
    (b"#?RADIANCE", "hdr"),
    (b"\x00\x00\x01\x00", "ico"),
    (b"\x00\x00\x02\x00", "cur"),
)
# BMP's "BM" alone is too weak; the DIB header sizes that follow it make it certain.
_BMP_DIB_SIZES = {12, 40, 52, 56, 64, 108, 124}
_PNM = re.compile(rb"^P[1-7]\s")
_XML_STARTS = (b"<?xml", b"<!--", b"<!doctype")
_HEVC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"mif1", b"msf1"}


def _le32(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<I", data, offset)[0]
    return value


def _iso_media(data: bytes) -> str:
    """HEIC/HEIF/AVIF (and MP4/MOV) share the ISO base media ``ftyp`` box; its brands tell."""
    box_size = struct.unpack(">I", data[:4])[0]
    end = min(max(box_size, 16), len(data), 4096)
    brands = {data[8:12]} | {data[i : i + 4] for i in range(16, end - 3, 4)}
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEVC_BRANDS:
        return "heic"
    if brands & _HEIF_BRANDS:
        return "heif"
    return "mov" if data[8:12] == b"qt  " else "mp4"


def sniff(data: bytes) -> str | None:
    """The lower-case format name of ``data``, or None when it is no known image."""
    for prefix, name in _PREFIXES:
        if data.startswith(prefix):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM" and len(data) >= 18 and _le32(data, 14) in _BMP_DIB_SIZES:
        return "bmp"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return _iso_media(data)
    if _PNM.match(data[:3]):
        return "pnm"
    if _is_svg(data[:4096]):
        return "svg"
    return None


def _is_svg(head: bytes) -> bool:
    # Plain substring tests: a regex over comments could backtrack exponentially.
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return text.startswith(b"<svg") or (text.startswith(_XML_STARTS) and b"<svg" in text)
