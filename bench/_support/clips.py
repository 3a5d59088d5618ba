"""Real clips made with PyAV: smooth moving gradients (so x264 and FFV1 get real content), a
real AAC stream (a sine sweep), real subtitle packets. Nothing is mocked: every clip is an
ordinary media file FFmpeg reads like any other."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np


def picture(index: int, width: int, height: int) -> np.ndarray:
    """A frame whose content identifies its index (a moving gradient plus a bright bar)."""
    y, x = np.mgrid[0:height, 0:width]
    base = ((x * 4 + y * 2 + index * 9) % 256).astype(np.uint8)
    rgb = np.stack([base, np.roll(base, index, axis=1), 255 - base], axis=-1)
    bar = (index * 3) % max(1, width - 4)
    rgb[:, bar : bar + 4] = 250
    return rgb


def add_audio(out: Any, seconds: float, rate: int = 48_000) -> list[Any]:
    stream = out.add_stream("aac", rate=rate)
    stream.layout = "stereo"
    packets: list[Any] = []
    samples = int(seconds * rate)
    t = np.arange(samples) / rate
    wave = (0.3 * np.sin(2 * np.pi * (220 + 200 * t) * t)).astype(np.float32)
    for start in range(0, samples, 1024):
        block = wave[start : start + 1024]
        frame = av.AudioFrame.from_ndarray(np.stack([block, block]), format="fltp",
                                           layout="stereo")
        frame.sample_rate = rate
        frame.pts = start
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode(None))
    return packets


def make_clip(path: Path, *, frames: int = 24, rate: Fraction = Fraction(30000, 1001),
              size: tuple[int, int] = (64, 48), audio: bool = True, gop: int = 8,
              pts: Sequence[int] | None = None, time_base: Fraction | None = None,
              subtitles: Sequence[tuple[float, float, str]] = (),
              container: str | None = None, scene_cuts: bool = True) -> Path:
    """An H.264 clip (B-frames on, keyframe every ``gop``) with optional AAC and subtitles.

    x264 also starts a GOP where the picture changes a lot (most test pictures do);
    ``scene_cuts=False`` leaves keyframes exactly every ``gop`` frames.

    ``pts``/``time_base`` give explicit (e.g. variable) frame timestamps; otherwise frame i is
    at i / rate. ``subtitles`` are (start s, duration s, text): SubRip in Matroska, mov_text in
    MP4.
    """
    width, height = size
    out: Any = av.open(str(path), mode="w", format=container)
    options = {"g": str(gop), "bf": "2", "preset": "veryfast"}
    if not scene_cuts:
        options["sc_threshold"] = "0"
    video = out.add_stream("libx264", rate=rate, options=options)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    clock = time_base or Fraction(1) / rate
    video.codec_context.time_base = clock
    stamps = list(pts) if pts is not None else list(range(frames))
    packets: list[Any] = []
    for i, stamp in enumerate(stamps):
        frame = av.VideoFrame.from_ndarray(picture(i, width, height), format="rgb24")
        frame.pts, frame.time_base = stamp, clock
        packets.extend(video.encode(frame))
    packets.extend(video.encode(None))
    seconds = float((stamps[-1] + (stamps[-1] - stamps[-2] if len(stamps) > 1 else 1)) * clock)
    if audio:
        packets.extend(add_audio(out, seconds))
    if subtitles:
        mp4 = out.format.name.startswith("mov") or out.format.name == "mp4"
        sub = out.add_mux_stream("mov_text" if mp4 else "subrip")
        sub.time_base = Fraction(1, 1000)
        for start, duration, text in subtitles:
            data = text.encode()
            packet = av.Packet((len(data).to_bytes(2, "big") + data) if mp4 else data)
            packet.pts = packet.dts = int(start * 1000)
            packet.duration = int(duration * 1000)
            packet.time_base = Fraction(1, 1000)
            packet.stream = sub
            packets.append(packet)
    packets.sort(key=lambda p: float((p.dts if p.dts is not None else 0) * p.time_base))
    for packet in packets:
        out.mux(packet)
    out.close()
    return path
