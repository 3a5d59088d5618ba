"""Encoding one upscaled chunk (FFV1/NUT) to H.264 with its frame timestamps unchanged.

libx264 with yuv420p needs even dimensions: an odd width or height loses its last column/row
(only possible at scale 1 of an odd-sized source). The encoder gets the chunk's own time base
and every frame's pts, so VFR timing passes through; ``frame_rate`` (the source's exact rate,
or None for VFR) only guides rate control. Output is H.264 in NUT, which keeps the time base.
B-frames are off: then every packet's dts equals its pts, so chunks join into one stream with
rising timestamps without re-deriving decode times (NUT does not store them), for a few
percent of bitrate at the same CRF.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from common.media.intermediate import read_frames


def even(value: int) -> int:
    return max(2, value - value % 2)


def encode_chunk(in_path: Path, out_path: Path, *, crf: int, preset: str,
                 frame_rate: str | None) -> dict[str, Any]:
    """Encode ``in_path`` to ``out_path``; return ``{"frames", "width", "height"}``."""
    out: Any = None
    stream: Any = None
    frames = 0
    width = height = 0
    try:
        for frame, pts, time_base in read_frames(in_path):
            if out is None:
                width, height = even(frame.width), even(frame.height)
                out = av.open(str(out_path), mode="w", format="nut")
                rate = Fraction(frame_rate) if frame_rate else None
                stream = out.add_stream("libx264", rate=rate,
                                        options={"crf": str(crf), "preset": preset,
                                                 "bf": "0"})
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                stream.codec_context.time_base = time_base
                stream.time_base = time_base
            if (frame.width, frame.height) != (width, height):
                frame = _crop(frame, width, height)
            picture = frame.reformat(format="yuv420p")
            picture.pts = pts
            picture.time_base = time_base
            out.mux(stream.encode(picture))
            frames += 1
        if out is not None:
            out.mux(stream.encode(None))
    finally:
        if out is not None:
            out.close()
    return {"frames": frames, "width": width, "height": height}


def _crop(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    rgb = frame.to_ndarray(format="rgb24")[:height, :width]
    return av.VideoFrame.from_ndarray(rgb.copy(), format="rgb24")
