"""Chunk sizes at the decode side: a high frame rate or a long GOP never makes one chunk (one
message of upscaling) longer than ``VIDEO_CHUNK_MAX_FRAMES``, and a cut inside a GOP loses or
repeats no frame."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from common.media.intermediate import read_frames
from pipeline.decode.chunking import split_video
from tests.common.media.clips import make_clip


def _source_times(path: Path) -> tuple[list[Fraction], set[Fraction]]:
    """Every frame's time and the keyframes' times, in seconds."""
    with av.open(str(path)) as media:
        frames = [(f.pts * f.time_base, f.key_frame) for f in media.decode(media.streams.video[0])]
    return sorted(t for t, _ in frames), {t for t, key in frames if key}


def _chunk_times(chunk: dict[str, Any]) -> list[Fraction]:
    return [pts * clock for _, pts, clock in read_frames(Path(chunk["path"]))]


def test_a_long_gop_at_a_high_rate_is_cut_at_the_frame_cap(tmp_path: Path) -> None:
    # 240 fps, one keyframe in 400 frames: by time alone the first chunk would hold every
    # frame up to the 4 × 1 s hard cut (all 400 here).
    source = make_clip(tmp_path / "fast.mkv", frames=400, gop=1000, rate=Fraction(240),
                       audio=False)
    work = tmp_path / "chunks"
    work.mkdir()
    manifest = split_video(str(source), str(work), chunk_seconds=1.0, max_frames=48)
    assert [c["frame_count"] for c in manifest["chunks"]] == [48] * 8 + [16]
    assert manifest["frame_count"] == 400
    times, _ = _source_times(source)
    # Every frame once, in order, with its own timestamp, across cuts inside the GOP.
    assert [t for chunk in manifest["chunks"] for t in _chunk_times(chunk)] == times


def test_chunks_under_the_cap_are_still_cut_on_keyframes(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "gop.mp4", frames=48, gop=12, audio=False)
    work = tmp_path / "chunks"
    work.mkdir()
    manifest = split_video(str(source), str(work), chunk_seconds=0.3, max_frames=120)
    _, keyframes = _source_times(source)
    starts = [_chunk_times(chunk)[0] for chunk in manifest["chunks"]]
    assert len(starts) >= 3 and set(starts) <= keyframes
    assert sum(c["frame_count"] for c in manifest["chunks"]) == 48


def eight_seconds(tmp_path: Path, gop: int = 25) -> Path:
    """200 frames at 25 fps with a keyframe exactly every ``gop`` frames."""
    return make_clip(tmp_path / f"eight-{gop}.mp4", frames=200, gop=gop, rate=Fraction(25),
                     audio=False, scene_cuts=False)


def sizes(source: Path, tmp_path: Path, **options: Any) -> tuple[list[int], dict[str, Any]]:
    """The chunks' frame counts of a 1 s split of ``source`` (and the manifest)."""
    work = tmp_path / f"chunks-{len(list(tmp_path.iterdir()))}"
    work.mkdir()
    manifest = split_video(str(source), str(work), chunk_seconds=1.0, **options)
    return [c["frame_count"] for c in manifest["chunks"]], manifest


def test_the_tail_is_cut_in_halving_pieces_without_waiting_for_a_keyframe(
        tmp_path: Path) -> None:
    # 8 s at 25 fps, a keyframe each second, 1 s chunks: the last second (less than two
    # chunks from the end) goes as half of what remains (13 frames), then quarter-chunk
    # pieces; the pieces start off keyframes and still hold every frame once.
    source = eight_seconds(tmp_path)
    counts, manifest = sizes(source, tmp_path, duration=8.0, min_frames=4)
    assert counts == [25] * 7 + [13, 7, 5]
    times, keyframes = _source_times(source)
    assert [t for chunk in manifest["chunks"] for t in _chunk_times(chunk)] == times
    assert _chunk_times(manifest["chunks"][8])[0] not in keyframes
    # Without a duration (unknown to the probe) every chunk ends on a keyframe.
    assert sizes(source, tmp_path)[0] == [25] * 8


def test_tail_pieces_never_go_under_min_frames(tmp_path: Path) -> None:
    counts, _ = sizes(eight_seconds(tmp_path), tmp_path, duration=8.0, min_frames=10)
    assert counts == [25] * 7 + [13, 12]


def test_a_duration_shorter_than_the_video_does_not_cut_the_rest_into_pieces(
        tmp_path: Path) -> None:
    # The container says 2 s; the video runs 8. 1 s whole, the "tail" 13 + 7, then the piece
    # that ran past 2 s ends on the next keyframe (30 frames) and whole chunks follow (a wrong
    # duration only changes sizes, and not into 4x as many chunks).
    counts, _ = sizes(eight_seconds(tmp_path), tmp_path, duration=2.0, min_frames=4)
    assert counts == [25, 13, 7, 30] + [25] * 5


def test_a_chunk_waiting_for_a_keyframe_is_cut_where_the_tail_begins(tmp_path: Path) -> None:
    # One keyframe in 8 s: chunks end at the 4 s hard cut; the second one, still waiting for
    # a keyframe, is cut as it enters the last two seconds, and the tail halves from there.
    source = eight_seconds(tmp_path, gop=1000)
    counts, manifest = sizes(source, tmp_path, duration=8.0, min_frames=4)
    assert counts == [100, 51, 25, 12, 7, 5]
    times, _ = _source_times(source)
    assert [t for chunk in manifest["chunks"] for t in _chunk_times(chunk)] == times
