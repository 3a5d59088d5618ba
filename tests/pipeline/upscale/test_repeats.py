"""Repeated frames on real footage (Big Buck Bunny held on twos and threes) through the real
anime_video engine, tiled and batched: exact repeats are byte-identical to running every
frame, near repeats stay within the threshold, timestamps and order are kept."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from bench._support.held_frames import TIME_BASE, drawings, held, write_chunk
from common.skip_similar import DEFAULT_DB
from pipeline.upscale.engine.engine import Enhancer
from pipeline.upscale.repeats import ChunkTails, NoRepeats, RepeatFilter, psnr
from pipeline.upscale.video_chunks import upscale_chunk
from tests.pipeline.video_support import anime_models

__all__ = ["anime_models"]  # the fixture, imported so pytest finds it here

SIZE = (96, 54)
BATCH = 4  # distinct frames per batch: holds straddle batch boundaries


@pytest.fixture(scope="module")
def engine(anime_models: Path) -> Enhancer:
    """The worker's CPU engine (bf16 where the CPU has it), tiles of 32 px batched 4 at a
    time: the 96×54 frames are cut into 6 tiles each."""
    return Enhancer(use_gpu=False, tile_size=32, tile_pad=8, batch_size=BATCH,
                    models_dir=anime_models, auto_fetch=False)


@pytest.fixture(scope="module")
def pictures() -> list[np.ndarray]:
    return drawings(6, SIZE)


def enhance_with(engine: Enhancer):  # type: ignore[no-untyped-def]
    return lambda frames: engine.enhance_frames(frames, model_type="anime_video", scale=4)


def decoded(path: Path) -> list[tuple[Fraction, np.ndarray]]:
    """(exact presentation time, RGB picture) of every frame: NUT may refine the time base
    (1/1000 → 1/64000), so times compare, not raw pts."""
    with av.open(str(path)) as media:
        return [(f.pts * Fraction(f.time_base), f.to_ndarray(format="rgb24"))
                for f in media.decode(media.streams.video[0])]


def times(pts: list[int]) -> list[Fraction]:
    return [stamp * TIME_BASE for stamp in pts]


def test_the_engine_gives_one_output_per_input_whatever_the_batch(
        engine: Enhancer, pictures: list[np.ndarray]) -> None:
    enhance = enhance_with(engine)
    together = enhance(np.stack(pictures))
    # Other neighbours, other positions, other batch sizes, alone.
    assert np.array_equal(enhance(np.stack(pictures[::-1]))[::-1], together)
    assert np.array_equal(enhance(np.stack([pictures[4], pictures[1], pictures[2]])),
                          together[[4, 1, 2]])
    for index in (0, 5):
        assert np.array_equal(enhance(pictures[index][None])[0], together[index])


@pytest.mark.parametrize("hold", [2, 3])
def test_exact_repeats_are_byte_identical_to_running_every_frame(
        engine: Enhancer, pictures: list[np.ndarray], tmp_path: Path, hold: int) -> None:
    clip = tmp_path / "held.nut"
    pts = write_chunk(clip, held(pictures, hold))
    full = upscale_chunk(clip, tmp_path / "full.nut", enhance_with(engine), BATCH,
                         repeats=NoRepeats())
    reused = upscale_chunk(clip, tmp_path / "reused.nut", enhance_with(engine), BATCH)
    assert full["reused"] == 0
    assert reused["reused"] == len(pictures) * (hold - 1)
    assert reused["frames"] == full["frames"] == len(pictures) * hold
    assert (tmp_path / "reused.nut").read_bytes() == (tmp_path / "full.nut").read_bytes()
    assert [stamp for stamp, _ in decoded(tmp_path / "reused.nut")] == times(pts)


def test_progress_counts_every_frame_written_once(
        engine: Enhancer, pictures: list[np.ndarray], tmp_path: Path) -> None:
    clip = tmp_path / "threes.nut"
    write_chunk(clip, held(pictures, 3))
    reported: list[int] = []
    upscale_chunk(clip, tmp_path / "out.nut", enhance_with(engine), BATCH,
                  on_batch=reported.append)
    # 4 distinct frames (12 written) per batch, then the last 2 distinct (6 written).
    assert reported == [12, 18]


def test_a_long_still_is_written_in_bounded_batches(
        engine: Enhancer, pictures: list[np.ndarray], tmp_path: Path) -> None:
    clip = tmp_path / "still.nut"
    frames = [*held(pictures[:1], 20), pictures[1]]
    write_chunk(clip, frames)
    reported: list[int] = []
    made = upscale_chunk(clip, tmp_path / "out.nut", enhance_with(engine), 2,
                         on_batch=reported.append, repeats=RepeatFilter())
    assert made["reused"] == 19
    assert reported == [8, 16, 21]  # batches of repeats alone reuse the previous batch's output
    outputs = [picture for _, picture in decoded(tmp_path / "out.nut")]
    expected = enhance_with(engine)(np.stack(pictures[:2]))
    assert all(np.array_equal(out, expected[0]) for out in outputs[:20])
    assert np.array_equal(outputs[20], expected[1])


@pytest.mark.parametrize("hold", [2, 3])
def test_near_repeats_skip_noisy_holds_within_the_threshold(
        engine: Enhancer, pictures: list[np.ndarray], tmp_path: Path, hold: int) -> None:
    clip = tmp_path / "noisy.nut"
    frames = held(pictures, hold, noise=2.0)
    pts = write_chunk(clip, frames)
    full = upscale_chunk(clip, tmp_path / "full.nut", enhance_with(engine), BATCH,
                         repeats=NoRepeats())
    exact = upscale_chunk(clip, tmp_path / "exact.nut", enhance_with(engine), BATCH)
    near = upscale_chunk(clip, tmp_path / "near.nut", enhance_with(engine), BATCH,
                         repeats=RepeatFilter(DEFAULT_DB))
    assert full["reused"] == exact["reused"] == 0  # noisy copies are not exact repeats
    assert (tmp_path / "exact.nut").read_bytes() == (tmp_path / "full.nut").read_bytes()
    assert near["reused"] == len(pictures) * (hold - 1)
    near_frames, full_frames = decoded(tmp_path / "near.nut"), decoded(tmp_path / "full.nut")
    assert ([stamp for stamp, _ in near_frames] == [stamp for stamp, _ in full_frames]
            == times(pts))
    scores = [psnr(a, b) for (_, a), (_, b) in zip(near_frames, full_frames, strict=True)]
    assert min(scores) >= DEFAULT_DB, scores
    # The drawings themselves were processed: their outputs are the full run's.
    assert all(np.array_equal(near_frames[i][1], full_frames[i][1])
               for i in range(0, len(frames), hold))


def test_a_clip_without_repeats_is_unchanged(
        engine: Enhancer, pictures: list[np.ndarray], tmp_path: Path) -> None:
    clip = tmp_path / "plain.nut"
    write_chunk(clip, pictures)
    full = upscale_chunk(clip, tmp_path / "full.nut", enhance_with(engine), BATCH,
                         repeats=NoRepeats())
    for threshold in (None, DEFAULT_DB):
        made = upscale_chunk(clip, tmp_path / "out.nut", enhance_with(engine), BATCH,
                             repeats=RepeatFilter(threshold))
        assert made == full
        assert (tmp_path / "out.nut").read_bytes() == (tmp_path / "full.nut").read_bytes()


def test_a_chunk_reuses_the_previous_chunks_last_output_when_at_hand(
        engine: Enhancer, pictures: list[np.ndarray], tmp_path: Path) -> None:
    frames = held(pictures[:4], 2)  # the hold of pictures[1] straddles the cut
    write_chunk(tmp_path / "first.nut", frames[:3])
    write_chunk(tmp_path / "second.nut", frames[3:], first=3)
    tails = ChunkTails()
    first = RepeatFilter(tail=tails.before("v", 0))
    upscale_chunk(tmp_path / "first.nut", tmp_path / "up0.nut", enhance_with(engine), BATCH,
                  repeats=first)
    tails.keep("v", 0, first.tail())
    at_hand = upscale_chunk(tmp_path / "second.nut", tmp_path / "up1.nut",
                            enhance_with(engine), BATCH,
                            repeats=RepeatFilter(tail=tails.before("v", 1)))
    elsewhere = upscale_chunk(tmp_path / "second.nut", tmp_path / "cold.nut",
                              enhance_with(engine), BATCH)
    assert (first.reused, at_hand["reused"], elsewhere["reused"]) == (1, 3, 2)
    assert (tmp_path / "up1.nut").read_bytes() == (tmp_path / "cold.nut").read_bytes()
    assert tails.before("v", 2) is None and tails.before("w", 1) is None


def test_near_repeats_compare_with_the_last_frame_processed_not_the_previous(
        pictures: list[np.ndarray]) -> None:
    """A slow fade, 1 level per frame (48 dB from one frame to the next): at 40 dB a frame
    is processed again once it is 3 levels (38.6 dB) from the one whose output is reused."""
    base = (pictures[0].astype(np.int16) * 200 // 255 + 20)  # no clipping at either end
    fade = [(base + level).astype(np.uint8) for level in range(7)]
    repeats = RepeatFilter(DEFAULT_DB)
    processed = [i for i, frame in enumerate(fade) if not repeats.repeats(frame)]
    assert processed == [0, 3, 6]
    assert repeats.reused == 4


def test_chunk_tails_keep_only_the_latest() -> None:
    tails = ChunkTails(kept=2)
    frame = np.zeros((2, 2, 3), np.uint8)
    for video, index in (("a", 0), ("b", 0), ("a", 1)):
        made = RepeatFilter()
        made.repeats(frame)
        made.last_output = frame
        tails.keep(video, index, made.tail())
    assert tails.before("a", 1) is None  # ("a", 0) was the oldest
    assert tails.before("b", 1) is not None and tails.before("a", 2) is not None
