"""Lossless chunk files between stages: FFV1 video in NUT, every frame's timestamp kept.

NUT keeps any time base exactly (it may refine it, e.g. 1/30000 → 1/60000, which rescales
every pts by an integer), unlike Matroska's milliseconds, and FFV1 is lossless and intra-only,
so a frame goes in and comes out with the same pixels and the same pts. The chunk files are
ours (written by the decode or upscale stage), but are still opened with the pinned demuxer.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np

from common.errors import InvalidInput
from common.media.errors import media_reason

# 8-bit layouts FFV1 stores natively; anything else is converted to RGB (bgr0).
NATIVE_FORMATS = frozenset({"yuv420p", "yuv422p", "yuv444p", "gray", "bgr0"})
FFV1_OPTIONS = {"level": "3", "slicecrc": "0", "g": "1"}


class FrameWriter:
    """Writes frames of one size with their own pts into an FFV1/NUT file."""

    def __init__(self, path: Path, width: int, height: int, time_base: Fraction,
                 pix_fmt: str = "bgr0") -> None:
        self.path = path
        self.width, self.height = width, height
        self.time_base = time_base
        self.count = 0
        self._out: Any = av.open(str(path), mode="w", format="nut")
        self._stream: Any = self._out.add_stream("ffv1", options=dict(FFV1_OPTIONS))
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = pix_fmt
        self._stream.codec_context.time_base = time_base
        self._stream.codec_context.thread_count = 2
        self._stream.time_base = time_base

    def write(self, frame: av.VideoFrame | np.ndarray, pts: int) -> None:
        if isinstance(frame, np.ndarray):
            frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        if (frame.width, frame.height) != (self.width, self.height) or (
            frame.format.name != self._stream.pix_fmt
        ):
            frame = frame.reformat(self.width, self.height, self._stream.pix_fmt)
        frame.pts = pts
        frame.time_base = self.time_base
        self._out.mux(self._stream.encode(frame))
        self.count += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.mux(self._stream.encode(None))
            self._out.close()
            self._out = None

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def storage_format(name: str) -> str:
    """The pixel format a decoded source frame is stored in (its own, when lossless)."""
    return name if name in NATIVE_FORMATS else "bgr0"


def read_frames(path: Path) -> Iterator[tuple[av.VideoFrame, int, Fraction]]:
    """Yield ``(frame, pts, time_base)`` for every frame of a chunk file, in order."""
    try:
        media: Any = av.open(str(path), mode="r", format="nut",
                             options={"protocol_whitelist": "file", "format_whitelist": "nut"})
    except (av.FFmpegError, ValueError) as exc:
        raise InvalidInput(f"el fragmento no se puede leer ({media_reason(exc)})") from None
    with media:
        if not media.streams.video:
            raise InvalidInput("el fragmento no tiene pista de video")
        stream = media.streams.video[0]
        time_base = Fraction(stream.time_base)
        try:
            for frame in media.decode(stream):
                if frame.pts is None:
                    raise InvalidInput("el fragmento tiene un frame sin marca de tiempo")
                yield frame, int(frame.pts), time_base
        except av.FFmpegError as exc:
            raise InvalidInput(f"el fragmento está dañado ({media_reason(exc)})") from None
