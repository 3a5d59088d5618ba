"""Repeated frames: which decoded frames can take the previous output instead of the model.

Animation held "on twos" or "on threes", title cards, slides and still shots repeat frames;
the upscale stage runs the model once per distinct picture and writes the held output again
for each repeat (each with its own pts, see :func:`pipeline.upscale.video_chunks.upscale_chunk`).

- **Exact repeats, always**: a frame whose decoded RGB pixels equal the previous frame's. The
  engine gives the same output for the same input whatever the batch it lands in (the tests
  check it, tiled and batched), so reusing the output is bit-identical to running the model.
- **Near repeats, on request** (``skip_similar``, a PSNR threshold in dB,
  :mod:`common.skip_similar`): a frame within the threshold of the last frame the model
  *really* processed. Comparing with that frame rather than the previous one bounds the
  drift: a slow fade is processed again as soon as it has moved ``threshold`` away from the
  picture whose output is being reused.

The comparisons run in the upscale stage on the frames it has just decoded (``cv2.norm``, in
C; ``bench/dedup.py`` prints the cost per 1280×720 frame, see docs/repeated-frames.md), not in
decode: decode would have to ship a map of repeats with every chunk, and the stage that holds
the outputs is the one that can reuse them.

Across chunks: a worker keeps the tail of the last chunks it upscaled (:class:`ChunkTails`), so
a chunk whose previous chunk it has just done compares its first frame with that chunk's last
one; a chunk whose predecessor ran elsewhere simply processes its first frame.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

# Tails kept per worker: the chunk just done per video being upscaled; a worker runs one
# chunk at a time, so two cover a worker alternating between two videos.
TAILS_KEPT = 2
_PEAK = 255.0 * 255.0


def identical(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and same pixels (max absolute difference 0, in C)."""
    return a.shape == b.shape and cv2.norm(a, b, cv2.NORM_INF) == 0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 pictures of one shape (inf when identical)."""
    squared = cv2.norm(a, b, cv2.NORM_L2SQR)
    if squared == 0:
        return math.inf
    return 10.0 * math.log10(_PEAK * a.size / squared)


@dataclass(frozen=True)
class Tail:
    """What a chunk leaves for the next chunk of its video: its last input frame, the last
    input the model really processed (the near-repeat reference) and the last output."""

    last_input: np.ndarray
    reference: np.ndarray
    output: np.ndarray


class RepeatFilter:
    """Decides, frame after frame, whether a frame reuses the previous output.

    ``skip_similar``: None for exact repeats only, else the threshold in dB. ``tail``: the
    previous chunk's, when at hand. Not thread-safe: one chunk's reading thread owns it.
    """

    def __init__(self, skip_similar: float | None = None, tail: Tail | None = None) -> None:
        self.threshold = skip_similar
        self.reused = 0
        self._previous = tail.last_input if tail is not None else None
        self._reference = tail.reference if tail is not None else None
        # The output of the last frame so far (the caller's to update): what a repeat reuses.
        self.last_output = tail.output if tail is not None else None

    def repeats(self, frame: np.ndarray) -> bool:
        """True when ``frame`` can take the previous output; records it either way."""
        previous, self._previous = self._previous, frame
        if previous is None:
            self._reference = frame
            return False
        repeat = identical(frame, previous)
        if not repeat and self.threshold is not None and self._reference is not None:
            repeat = (frame.shape == self._reference.shape
                      and psnr(frame, self._reference) >= self.threshold)
        if repeat:
            self.reused += 1
        else:
            self._reference = frame
        return repeat

    def tail(self) -> Tail | None:
        """The tail to leave for the next chunk (None before any output). The output is
        copied: as a view it would pin its whole batch in memory."""
        if self._previous is None or self._reference is None or self.last_output is None:
            return None
        return Tail(self._previous, self._reference, self.last_output.copy())


class ChunkTails:
    """The tails of the last ``TAILS_KEPT`` chunks this worker upscaled, by (video, chunk).

    Bounded: each tail holds two input frames and one output frame (a 1280×720 ×4 output is
    11 MB). Shared by the stage's handlers, so guarded by a lock.
    """

    def __init__(self, kept: int = TAILS_KEPT) -> None:
        self._kept = kept
        self._tails: OrderedDict[tuple[str, int], Tail] = OrderedDict()
        self._lock = threading.Lock()

    def before(self, video_id: str, index: int) -> Tail | None:
        """The tail of chunk ``index - 1`` of the video, when this worker has it."""
        with self._lock:
            return self._tails.get((video_id, index - 1))

    def keep(self, video_id: str, index: int, tail: Tail | None) -> None:
        if tail is None:
            return
        with self._lock:
            self._tails[(video_id, index)] = tail
            self._tails.move_to_end((video_id, index))
            while len(self._tails) > self._kept:
                self._tails.popitem(last=False)


class NoRepeats(RepeatFilter):
    """Every frame to the model: the baseline repeats are measured against (bench/dedup.py,
    the tests' reference runs)."""

    def repeats(self, frame: np.ndarray) -> bool:
        return False
