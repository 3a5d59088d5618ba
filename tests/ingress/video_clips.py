"""Tiny real clips made with PyAV for the video API tests (64×48, a second or so)."""

from __future__ import annotations

import io
from fractions import Fraction
from typing import cast

import av
import numpy as np


def make_clip(
    *,
    frames: int = 30,
    rate: Fraction | int = Fraction(30000, 1001),
    width: int = 64,
    height: int = 48,
    audio: bool = False,
    fmt: str = "mp4",
    codec: str = "libx264",
) -> bytes:
    """A clip of ``frames`` frames at exactly ``rate``, optionally with AAC audio.

    ``codec="rawvideo"`` (with ``fmt="matroska"``) makes a large file without encoding time.
    """
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        video = cast(av.VideoStream, out.add_stream(codec, rate=rate))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            video.options = {"preset": "ultrafast"}
        sound = out.add_stream("aac", rate=48000) if audio else None
        for i in range(frames):
            pixels = np.zeros((height, width, 3), np.uint8)
            pixels[:, : (i * 2) % width] = (200, 40, 90)  # a moving edge: frames differ
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            frame.time_base = 1 / Fraction(rate)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None:
            samples = int(48000 * frames / Fraction(rate))
            t = np.arange(samples) / 48000
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            step = 1024
            for start in range(0, samples, step):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone[:, start : start + step]),
                    format="fltp",
                    layout="mono",
                )
                chunk.sample_rate, chunk.pts = 48000, start
                out.mux(sound.encode(chunk))
            out.mux(sound.encode())
    return buf.getvalue()


def count_frames(data: bytes) -> tuple[int, int, int]:
    """(decoded frames, width, height) of the first video stream of ``data``."""
    with av.open(io.BytesIO(data), "r") as media:
        stream = media.streams.video[0]
        frames = len(list(media.decode(stream)))
        return frames, stream.codec_context.width, stream.codec_context.height
