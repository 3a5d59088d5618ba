"""Splitting a video into independently processable chunks, exactly.

The source is decoded once with PyAV; each decoded frame keeps its own pts (B-frame reordering,
edit lists and a non-zero start are the decoder's business, so every displayed frame appears
once, in order). A chunk ends at the first keyframe at or after ``chunk_seconds`` (so a cut
falls where the source itself starts a GOP); because chunks hold decoded frames, a source with
no keyframe for a long time is also cut after ``4 × chunk_seconds``, and any chunk is cut at
``max_frames`` (a long GOP or a high frame rate would otherwise put thousands of frames, and
hours of upscaling, into one message). Each chunk is written as a lossless FFV1/NUT file
(:mod:`common.media.intermediate`), so a cut inside a GOP is as exact as one on a keyframe.
The tail is cut finer (:func:`_tail_target`): when a chunk starts less than two chunks before the
end (by the probed duration), it is cut at half of what remains, never under a quarter chunk nor
under ``min_frames`` (one batch), nor so as to leave less than ``min_frames`` for the last
piece, and without waiting for a keyframe; a whole chunk still waiting for its keyframe when it
reaches the tail is cut there too. The last chunk of a video would otherwise leave every other
worker idle while one finishes it: with pieces halving, the workers end within a small piece of
each other. A duration that lies only changes the sizes.
Each finished chunk is announced by a ``chunk-NNNNN.json`` beside it (written whole, then
renamed into place), so the decode stage can store and publish it while the split goes on.
Runs in the sandbox child.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from common.errors import InvalidInput
from common.media.containers import open_input
from common.media.errors import media_reason
from common.media.intermediate import FrameWriter, storage_format
from common.media.timing import Timeline

HARD_CUT_FACTOR = 4


def split_video(path: str, out_dir: str, chunk_seconds: float,
                container: str | None = None, max_frames: int = 120,
                duration: float | None = None, min_frames: int = 1) -> dict[str, Any]:
    """Write ``chunk-NNNNN.nut`` files into ``out_dir``; return the manifest and layout.
    ``duration`` (the probed one, seconds) turns on the finer tail; ``min_frames`` is the
    smallest tail piece."""
    chunks: list[dict[str, Any]] = []
    writer: FrameWriter | None = None
    start = last = 0
    origin: int | None = None
    target = Fraction(chunk_seconds)
    tail: Fraction | None = None  # the current chunk's length when it is a tail piece
    with open_input(Path(path), container) as media:
        if not media.streams.video:
            raise InvalidInput("El archivo no es un video válido: no tiene pista de video")
        stream = media.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = Fraction(stream.time_base or Fraction(1, 1000))
        width, height = stream.codec_context.width, stream.codec_context.height
        layout = stream_layout(media)
        step = _nominal_step(stream, time_base)
        least = min_frames * step * time_base  # no tail piece left shorter than this
        timeline = Timeline(time_base)
        try:
            for frame in media.decode(stream):
                pts = frame.pts if frame.pts is not None else last + step
                if writer is not None and pts <= last:
                    pts = last + 1  # a muxer needs strictly increasing pts; keep the frame
                origin = pts if origin is None else origin
                position, elapsed = (pts - origin) * time_base, (pts - start) * time_base
                left = _left(duration, position)
                if writer is None or (
                    (frame.key_frame and elapsed >= target)
                    or elapsed >= target * HARD_CUT_FACTOR
                    or writer.count >= max_frames
                    # In the tail no cut waits for a keyframe: a tail piece at its length, a
                    # whole chunk (still waiting for one) at the chunk length.
                    or (0 < left < 2 * target and elapsed >= (tail or target)
                        and writer.count >= min_frames and left >= least)
                ):
                    if writer is not None:
                        writer.close()
                        chunks.append(_announce(_record(writer, start, last)))
                    start = pts
                    tail = _tail_target(target, left)
                    writer = FrameWriter(
                        Path(out_dir) / f"chunk-{len(chunks):05d}.nut", width, height,
                        time_base, storage_format(frame.format.name),
                    )
                writer.write(frame, pts)
                timeline.add(pts, frame.duration)
                last = pts
        except av.FFmpegError as exc:
            raise InvalidInput(f"El video no se pudo decodificar: {media_reason(exc)}") from None
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise InvalidInput("El archivo no es un video válido: no contiene frames")
        chunks.append(_announce(_record(writer, start, last)))
        rate = timeline.frame_rate(stream.average_rate, stream.guessed_rate)
        vfr = timeline.variable()
    return {
        "chunks": chunks,
        "frame_count": sum(c["frame_count"] for c in chunks),
        "time_base": str(time_base),
        "width": width,
        "height": height,
        "layout": layout,
        # The encoder and muxer keep each frame's pts; the rate is written as the output's
        # nominal rate only for constant-rate sources.
        "timing": {"time_base": str(time_base), "vfr": vfr,
                   "frame_rate": f"{rate.numerator}/{rate.denominator}"},
    }


def _tail_target(target: Fraction, left: Fraction) -> Fraction | None:
    """The length of a chunk starting ``left`` seconds before the end when it is a tail piece
    (less than two chunks from the end), else None (a normal chunk, cut on a keyframe)."""
    if left >= 2 * target or left <= 0:
        return None  # not the tail yet, or past a duration that was wrong: whole chunks
    return max(left / 2, target / 4)


def _left(duration: float | None, position: Fraction) -> Fraction:
    """Seconds from ``position`` to the end by the probed duration (infinite when unknown)."""
    return Fraction(10**9) if duration is None else Fraction(duration) - position


def _record(writer: FrameWriter, first: int, last: int) -> dict[str, Any]:
    return {"path": str(writer.path), "frame_count": writer.count, "first_pts": first,
            "last_pts": last}


def announcement(chunk_path: Path) -> Path:
    """Where the split announces that ``chunk_path`` is complete (see the module doc)."""
    return chunk_path.with_suffix(".json")


def _announce(record: dict[str, Any]) -> dict[str, Any]:
    target = announcement(Path(record["path"]))
    partial = target.with_suffix(".part")
    partial.write_text(json.dumps(record))
    os.replace(partial, target)  # atomic: the reader sees the whole record or none
    return record


def _nominal_step(stream: Any, time_base: Fraction) -> int:
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    return max(1, round(1 / (Fraction(rate) * time_base)))


def stream_layout(media: Any) -> dict[str, Any]:
    """What the source holds besides its video: recorded on the job, muxed back at the end."""
    def describe(stream: Any) -> dict[str, Any]:
        ctx = stream.codec_context
        return {"index": stream.index,
                "codec": ctx.name if ctx is not None else None,
                "language": stream.language}

    chapters: list[Any] = []
    try:
        chapters = list(media.chapters())
    except (AttributeError, av.FFmpegError):
        chapters = []
    return {
        "audio": [describe(s) for s in media.streams.audio],
        "subtitles": [describe(s) for s in media.streams.subtitles],
        "attachments": [
            {"index": s.index, "name": s.name, "mimetype": s.mimetype}
            for s in media.streams.attachments
        ],
        "chapters": len(chapters),
    }
