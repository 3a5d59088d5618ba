"""An AVI with a GAB2 subtitle stream, written by hand (FFmpeg's AVI muxer cannot make one).

GAB2 is how DivX-era AVIs embed a whole SubRip file in a ``txts`` stream. FFmpeg reads it
with a nested demuxer, which the service's pinned ``format_whitelist`` keeps closed, so the
stream reaches the pipeline with no codec at all: the case that used to crash assembly. The
video is real MJPEG encoded by PyAV; everything else is the plain RIFF layout.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.common.media.clips import picture

_STRH = "<4s4sIHHIIIIIIIIhhhh"


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _list(kind: bytes, body: bytes) -> bytes:
    return _chunk(b"LIST", kind + body)


def _mjpeg(frames: int, width: int, height: int) -> list[bytes]:
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    packets: list[bytes] = []
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture(i, width, height)),
                                           format="rgb24").reformat(format="yuvj420p")
        frame.pts = i
        packets += [bytes(p) for p in encoder.encode(frame)]
    return packets + [bytes(p) for p in encoder.encode(None)]


def _gab2(srt: str, title: str) -> bytes:
    name = (title + "\0").encode("utf-16le")
    text = srt.encode()
    return (b"GAB2\0" + struct.pack("<HI", 2, len(name)) + name
            + struct.pack("<HI", 4, len(text)) + text)


def make_avi_with_gab2(path: Path, *, frames: int = 10, size: tuple[int, int] = (64, 48),
                       srt: str = "1\n00:00:00,100 --> 00:00:00,300\nHola\n\n") -> Path:
    """A 25 fps MJPEG AVI of ``frames`` frames plus a GAB2 (SubRip) subtitle stream."""
    width, height = size
    video = _mjpeg(frames, width, height)
    avih = struct.pack("<14I", 40000, 0, 0, 0x10, frames, 0, 2, 0, width, height, 0, 0, 0, 0)
    video_strl = _list(b"strl", _chunk(b"strh", struct.pack(
        _STRH, b"vids", b"MJPG", 0, 0, 0, 0, 1, 25, 0, frames, 0, 0xFFFFFFFF, 0, 0, 0,
        width, height)) + _chunk(b"strf", struct.pack(
            "<IiiHH4sIiiII", 40, width, height, 1, 24, b"MJPG", width * height * 3, 0, 0, 0, 0)))
    text_strl = _list(b"strl", _chunk(b"strh", struct.pack(
        _STRH, b"txts", b"\0\0\0\0", 0, 0, 0, 0, 1, 1000, 0, frames * 40, 0, 0xFFFFFFFF, 0, 0, 0,
        0, 0)) + _chunk(b"strf", b""))
    movi, index, offset = b"", b"", 4
    for fourcc, data in [(b"01tx", _gab2(srt, "English")), *((b"00dc", f) for f in video)]:
        piece = _chunk(fourcc, data)
        index += struct.pack("<4sIII", fourcc, 0x10, offset, len(data))
        movi, offset = movi + piece, offset + len(piece)
    body = (b"AVI " + _list(b"hdrl", _chunk(b"avih", avih) + video_strl + text_strl)
            + _list(b"movi", movi) + _chunk(b"idx1", index))
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
