"""probe_video on real files: exact counts and rates, VFR detection, caps, hostile input."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import av
import pytest

from common.errors import InvalidInput, TooLarge, UnsupportedFormat
from common.media import VideoLimits, probe_video
from common.settings import Settings
from tests.common.media.clips import BIGBUCKBUNNY, add_audio, make_clip

LIMITS = VideoLimits.from_settings(Settings(), scale=2)


def test_bigbuckbunny_is_probed_exactly() -> None:
    probe = probe_video(BIGBUCKBUNNY, LIMITS)
    assert (probe.container, probe.width, probe.height) == ("mp4", 1280, 720)
    assert (probe.frame_rate, probe.fps, probe.frame_count) == ("25/1", 25.0, 132)
    assert probe.duration_seconds == pytest.approx(132 / 25)
    assert probe.has_audio and not probe.has_subtitles and not probe.vfr


def test_ntsc_rate_with_b_frames_audio_and_subtitles(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "ntsc.mp4", frames=30, subtitles=[(0.1, 0.4, "hola")])
    probe = probe_video(clip, LIMITS)
    assert (probe.frame_rate, probe.fps, probe.frame_count) == ("30000/1001", 29.97, 30)
    assert probe.duration_seconds == pytest.approx(30 * 1001 / 30000)
    assert probe.has_audio and probe.has_subtitles and not probe.vfr


def test_matroska_ntsc_is_not_mistaken_for_vfr(tmp_path: Path) -> None:
    # Matroska stores milliseconds: steps of 33 and 34 ms are still constant-rate.
    clip = make_clip(tmp_path / "ntsc.mkv", frames=20, audio=False)
    probe = probe_video(clip, LIMITS)
    assert probe.container == "matroska" and not probe.vfr
    assert probe.frame_rate == "30000/1001" and probe.frame_count == 20


def test_variable_frame_rate_is_detected_from_timestamps(tmp_path: Path) -> None:
    pts = [0, 40, 80, 150, 190, 300, 333, 400, 480, 500]
    clip = make_clip(tmp_path / "vfr.mkv", pts=pts, time_base=Fraction(1, 1000), audio=False)
    probe = probe_video(clip, LIMITS)
    assert probe.vfr and probe.frame_count == 10
    # Last timestamp plus the last frame's own duration (one nominal 1001/30000 s step).
    assert probe.duration_seconds == pytest.approx(0.5 + 0.033, abs=0.0015)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"max_frames": 10}, "frames"),
        ({"max_seconds": 0.5}, "dura"),
        ({"max_pixels": 64 * 47}, "resolución"),
        ({"max_output_pixels": 128 * 95}, "salida"),
    ],
)
def test_caps_raise_too_large(tmp_path: Path, change: dict[str, int], expected: str) -> None:
    clip = make_clip(tmp_path / "c.mp4", frames=24, audio=False)
    with pytest.raises(TooLarge, match=expected):
        probe_video(clip, dataclasses.replace(LIMITS, **change))


def test_not_a_video_is_invalid_input(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_bytes(b"this is a text file, not a video\n" * 20)
    with pytest.raises(UnsupportedFormat):
        probe_video(text, LIMITS)
    empty = tmp_path / "empty.mkv"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInput):
        probe_video(empty, LIMITS)
    # Right magic bytes, garbage after them.
    fake = tmp_path / "fake.mkv"
    fake.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8)
    with pytest.raises(InvalidInput):
        probe_video(fake, LIMITS)


def test_audio_only_file_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "audio.mkv"
    with av.open(str(path), "w") as out:
        out.mux(add_audio(out, 0.5))
    with pytest.raises(InvalidInput, match="pista de video"):
        probe_video(path, LIMITS)


def _playlist(tmp_path: Path) -> tuple[Path, str]:
    """A playlist naming a real local video by absolute path: what an HLS exploit does."""
    secret = make_clip(tmp_path / "secret.mp4", frames=6, size=(32, 32), audio=False)
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:1.0,\n{secret}\n#EXT-X-ENDLIST\n"
    )
    return secret, text


def test_hls_playlist_that_ffmpeg_would_follow_is_refused(tmp_path: Path) -> None:
    _, text = _playlist(tmp_path)
    playlist = tmp_path / "upload.m3u8"
    playlist.write_text(text)
    # The threat is real: FFmpeg's default probing follows the playlist to the local file.
    with av.open(str(playlist)) as opened:
        assert opened.format.name == "hls"
        assert opened.streams.video[0].codec_context.width == 32
    for name in ("upload.m3u8", "upload.avi", "upload.mp4"):
        renamed = tmp_path / name
        renamed.write_text(text)
        with pytest.raises(UnsupportedFormat):
            probe_video(renamed, LIMITS)


def test_avi_embedding_an_hls_playlist_never_reads_the_named_file(tmp_path: Path) -> None:
    secret, text = _playlist(tmp_path)
    carrier = make_clip(tmp_path / "carrier.avi", frames=12, audio=False, container="avi",
                        rate=Fraction(25))
    # Put the playlist inside the AVI (as a JUNK chunk and a GAB2-style text payload): a
    # demuxer that probed embedded data could jump to hls and open ``secret``.
    data = bytearray(carrier.read_bytes())
    payload = b"GAB2\x00\x02\x00" + text.encode()
    junk = b"JUNK" + len(payload).to_bytes(4, "little") + payload
    data[12:12] = junk
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    hostile = tmp_path / "hostile.avi"
    hostile.write_bytes(bytes(data))
    secret_bytes = secret.read_bytes()
    secret.write_bytes(b"")  # if anything opened it now, it would find an empty file...
    try:
        probe = probe_video(hostile, LIMITS)
    except InvalidInput:
        return  # refused: fine
    finally:
        secret.write_bytes(secret_bytes)
    # ...and decoding went on with the carrier's own stream, not the 32×32 secret.
    assert (probe.container, probe.width, probe.height, probe.frame_count) == ("avi", 64, 48, 12)


def test_probe_runs_under_a_wall_clock_limit(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", frames=6, audio=False)
    with pytest.raises(InvalidInput, match="tiempo límite"):
        probe_video(clip, dataclasses.replace(LIMITS, timeout_seconds=0.01))
