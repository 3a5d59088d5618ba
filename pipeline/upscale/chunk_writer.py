"""A chunk's lossless FFV1 write on a thread of its own, so the engine never waits for it.

On a GPU the FFV1 encode of 2×/4× frames costs about as much as the model: written in turn,
the device would idle half the time. ``ChunkWriter.put`` hands a batch of enhanced frames to a
writer thread through a queue of ``depth`` batches and returns at once; it blocks only when
``depth`` batches already wait (memory stays at ``depth`` + 1 batches), and the time it blocked
is kept in ``waited_seconds`` (logged per chunk: a non-zero figure means the writer, not the
model, bounds the worker). ``close`` waits for the last write and raises the writer's error.

The output is a private temporary file: the chunk's result is claimed (stored once, whatever
the redeliveries) by the caller after ``close``, so a write that fails or is abandoned leaves
nothing behind and the message is redone whole.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from common.media.intermediate import FrameWriter

_DONE = None
Frames = np.ndarray | Sequence[np.ndarray]


class ChunkWriter:
    def __init__(self, path: Path, depth: int = 2) -> None:
        self.path = path
        self.waited_seconds = 0.0
        self._queue: queue.Queue[tuple[Frames, list[int], Fraction] | None] = queue.Queue(
            maxsize=max(1, depth))
        self._writer: FrameWriter | None = None
        self._error: BaseException | None = None
        self._abandoned = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chunk-writer", daemon=True)
        self._thread.start()

    # -- writer thread ------------------------------------------------------------------

    def _write(self, frames: Frames, stamps: list[int], time_base: Fraction) -> None:
        if self._writer is None:
            height, width = frames[0].shape[:2]
            self._writer = FrameWriter(self.path, width, height, time_base)
        for picture, pts in zip(frames, stamps, strict=True):
            self._writer.write(np.ascontiguousarray(picture), pts)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                break
            if self._error is None and not self._abandoned.is_set():
                try:
                    self._write(*item)
                except BaseException as exc:  # handed to the engine thread by put/close
                    self._error = exc
        if self._writer is not None:
            try:
                self._writer.close()
            except BaseException as exc:
                self._error = self._error or exc

    # -- engine thread ------------------------------------------------------------------

    def put(self, frames: Frames, stamps: list[int], time_base: Fraction) -> None:
        """Queue one batch (N×H×W×3 uint8, or N such frames that may be one array repeated,
        and its N pts); raises an earlier write's error."""
        if self._error is not None:
            raise self._error
        try:
            self._queue.put_nowait((frames, list(stamps), time_base))
        except queue.Full:
            started = time.perf_counter()
            self._queue.put((frames, list(stamps), time_base))
            self.waited_seconds += time.perf_counter() - started

    def close(self) -> dict[str, Any]:
        """Wait for every queued batch to be written and the file closed: its summary."""
        self._queue.put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._writer is None:
            return {"frames": 0, "width": 0, "height": 0}
        return {"frames": self._writer.count, "width": self._writer.width,
                "height": self._writer.height}

    def abandon(self) -> None:
        """Stop writing (the batches still queued are dropped) and close the file."""
        self._abandoned.set()
        self._queue.put(_DONE)
        self._thread.join()

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._thread.is_alive():
            self.abandon()
