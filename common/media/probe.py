"""``probe_video``: what a video holds and whether it is within the caps, without decoding it.

Only the container header and the video packets' timestamps are read, in a child process under
the probe's time and memory limits. The frame count comes from the packets (a header's
``nb_frames`` is often absent or wrong), and variable frame rate is detected from the packet
timestamps (FFmpeg reports ``avg_frame_rate=30/1`` for a VFR Matroska file).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.errors import InvalidInput, TooLarge
from common.media.sandbox import run_limited
from common.sizing import check_budget, target_size

if TYPE_CHECKING:
    from common.settings import Settings


@dataclass(frozen=True)
class VideoLimits:
    max_seconds: float
    max_frames: int
    max_pixels: int  # of one source frame
    max_output_pixels: int  # of one enhanced frame (source × scale²)
    scale: int
    timeout_seconds: float
    memory_mb: int

    @classmethod
    def from_settings(cls, settings: Settings, *, scale: int) -> VideoLimits:
        return cls(
            max_seconds=settings.max_video_seconds,
            max_frames=settings.max_video_frames,
            max_pixels=settings.max_video_pixels,
            max_output_pixels=settings.max_output_pixels,
            scale=scale,
            timeout_seconds=settings.video_probe_timeout_seconds,
            memory_mb=settings.video_decode_memory_mb,
        )


@dataclass(frozen=True)
class VideoProbe:
    container: str
    duration_seconds: float
    fps: float  # rounded to 2 decimals: 30000/1001 → 29.97
    frame_rate: str  # exact: "30000/1001"
    frame_count: int
    width: int
    height: int
    vfr: bool
    has_audio: bool
    has_subtitles: bool


def probe_video(path: Path, limits: VideoLimits) -> VideoProbe:
    """Probe ``path`` under ``limits``; sync (call it via ``asyncio.to_thread``).

    Raises ``UnsupportedFormat`` (container not allowed), ``InvalidInput`` (not a video, or the
    probe ran out of time or memory) or ``TooLarge`` (a cap is exceeded).
    """
    fields = run_limited(
        "common.media.probe:probe_in_process",
        {"path": str(path), "limits": asdict(limits)},
        timeout=limits.timeout_seconds,
        memory_mb=limits.memory_mb,
    )
    return VideoProbe(**fields)


def probe_in_process(path: str, limits: dict[str, Any]) -> dict[str, Any]:
    """The probe itself; runs in the sandbox child (call ``probe_video`` instead)."""
    import av

    from common.media.containers import open_input, sniff_container
    from common.media.timing import Timeline

    caps = VideoLimits(**limits)
    container = sniff_container(Path(path))
    with open_input(Path(path), container) as media:
        if not media.streams.video:
            raise InvalidInput("El archivo no es un video válido: no tiene pista de video")
        stream = media.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise InvalidInput("El archivo no es un video válido: dimensiones desconocidas")
        _check_pixels(width, height, caps)
        header_seconds = float(media.duration or 0) / 1_000_000
        if header_seconds > caps.max_seconds * 1.01 + 1:
            raise TooLarge(_too_long(header_seconds, caps))
        timeline = Timeline(stream.time_base)
        try:
            for packet in media.demux(stream):
                if packet.size == 0 or packet.is_discard:
                    continue
                timeline.add(packet.pts if packet.pts is not None else packet.dts,
                             packet.duration)
                if timeline.count > caps.max_frames:
                    raise TooLarge(
                        f"El video tiene más de {caps.max_frames} frames (límite configurado)"
                    )
        except av.FFmpegError as exc:
            raise InvalidInput(f"El archivo no es un video válido: {exc}") from None
        if timeline.count == 0:
            raise InvalidInput("El archivo no es un video válido: no contiene frames")
        duration = timeline.duration_seconds()
        if duration > caps.max_seconds:
            raise TooLarge(_too_long(duration, caps))
        rate = timeline.frame_rate(stream.average_rate, stream.guessed_rate)
        return {
            "container": container,
            "duration_seconds": round(duration, 6),
            "fps": round(float(rate), 2),
            "frame_rate": f"{rate.numerator}/{rate.denominator}",
            "frame_count": timeline.count,
            "width": width,
            "height": height,
            "vfr": timeline.variable(),
            "has_audio": bool(media.streams.audio),
            "has_subtitles": bool(media.streams.subtitles),
        }


def _check_pixels(width: int, height: int, caps: VideoLimits) -> None:
    # The same rule as an image's: every enhanced frame is the source frame × scale.
    check_budget(width, height, caps.max_pixels, "La resolución")
    check_budget(*target_size(width, height, caps.scale), caps.max_output_pixels, "La salida")


def _too_long(seconds: float, caps: VideoLimits) -> str:
    return f"El video dura {seconds:.1f} s; el máximo es {caps.max_seconds:g} s"


def rate_of(text: str) -> Fraction:
    """Parse a ``frame_rate`` string ("30000/1001") back into a Fraction."""
    return Fraction(text)
