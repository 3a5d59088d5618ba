"""The chunk's FFV1 write runs beside the engine: put returns while the writer is busy, the
file holds every frame with its pts exactly once, errors reach the engine thread, and the
queue bounds memory."""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from common.media.intermediate import FrameWriter, read_frames
from pipeline.upscale.chunk_writer import ChunkWriter
from pipeline.upscale.video_chunks import upscale_chunk
from tests.common.media.clips import picture
from tests.pipeline.video_support import resize2x

TIME_BASE = Fraction(1, 30)


def _batch(first: int, count: int = 2) -> tuple[np.ndarray, list[int]]:
    frames = np.stack([np.full((24, 32, 3), (first + i) * 10 % 256, np.uint8)
                       for i in range(count)])
    return frames, list(range(first, first + count))


def _stored(path: Path) -> list[tuple[Fraction, int]]:
    """(time, first pixel) of each frame; NUT keeps times exactly, in a time base of its own."""
    return [(pts * clock, int(frame.to_ndarray(format="rgb24")[0, 0, 0]))
            for frame, pts, clock in read_frames(path)]


def _until_taken(writer: ChunkWriter) -> None:
    deadline = time.monotonic() + 10
    while writer._queue.qsize() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def gated_writes(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Real FFV1 writes that wait for the test's signal: a writer as slow as we need."""
    gate = threading.Event()
    real_write = FrameWriter.write

    def write(self: FrameWriter, frame: np.ndarray, pts: int) -> None:
        assert gate.wait(30), "the test never opened the gate"
        real_write(self, frame, pts)

    monkeypatch.setattr(FrameWriter, "write", write)
    return gate


def test_put_returns_while_the_writer_is_busy_then_every_frame_lands_once(
    tmp_path: Path, gated_writes: threading.Event
) -> None:
    out = tmp_path / "up.nut"
    with ChunkWriter(out, depth=2) as writer:
        writer.put(*_batch(0), TIME_BASE)
        _until_taken(writer)  # the writer thread holds it at the gate
        started = time.perf_counter()
        for first in (2, 4):  # two more queued while the writer is busy
            writer.put(*_batch(first), TIME_BASE)
        assert time.perf_counter() - started < 1.0 and writer.waited_seconds == 0.0
        gated_writes.set()
        made = writer.close()
    assert made == {"frames": 6, "width": 32, "height": 24}
    assert _stored(out) == [(i * TIME_BASE, i * 10) for i in range(6)]


def test_a_full_queue_makes_put_wait_and_says_how_long(
    tmp_path: Path, gated_writes: threading.Event
) -> None:
    writer = ChunkWriter(tmp_path / "up.nut", depth=1)
    writer.put(*_batch(0), TIME_BASE)  # taken by the writer thread, held at the gate
    _until_taken(writer)
    writer.put(*_batch(2), TIME_BASE)  # fills the queue
    threading.Timer(0.5, gated_writes.set).start()
    writer.put(*_batch(4), TIME_BASE)  # no room until the gate opens: memory stays bounded
    assert writer.waited_seconds >= 0.3
    assert writer.close()["frames"] == 6


def test_a_write_error_reaches_the_engine_thread(tmp_path: Path) -> None:
    writer = ChunkWriter(tmp_path / "up.nut")
    writer.put(*_batch(0), TIME_BASE)
    frames, _ = _batch(2)
    writer.put(frames, [1, 1], TIME_BASE)  # pts going backwards: the muxer refuses them
    with pytest.raises(ValueError):  # PyAV's own error for a bad pts
        writer.close()
    assert not writer._thread.is_alive()


def test_upscale_chunk_through_the_writer_keeps_frames_and_pts(tmp_path: Path) -> None:
    chunk = tmp_path / "chunk.nut"
    with FrameWriter(chunk, 48, 32, Fraction(1, 1000)) as source:
        for index, pts in enumerate([0, 33, 67, 100, 150, 167, 200, 233, 300, 333, 367]):
            source.write(picture(index, 48, 32), pts)  # uneven gaps: VFR timestamps
    made = upscale_chunk(chunk, tmp_path / "up.nut", resize2x, batch_frames=4)
    assert (made["frames"], made["width"], made["height"]) == (11, 96, 64)
    assert made["writer_wait_s"] >= 0.0
    before = [(p * c, f.to_ndarray(format="rgb24")) for f, p, c in read_frames(chunk)]
    after = [(p * c, f.to_ndarray(format="rgb24")) for f, p, c in read_frames(tmp_path / "up.nut")]
    assert [p for p, _ in after] == [p for p, _ in before]
    for (_, small), (_, big) in zip(before, after, strict=True):
        assert np.array_equal(big, resize2x(small[None])[0])
