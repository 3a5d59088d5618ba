"""Opening user media safely: sniff the container, pin an allowlisted demuxer, local file only.

FFmpeg's default probing picks any of ~400 demuxers, some of which open *other* files or URLs
named inside the input (hls, concat, playlists, the AVI GAB2 sub-demuxer, mov external data
references). So we never let FFmpeg guess: the first bytes decide the container, that demuxer
is pinned with ``format=``, and ``format_whitelist`` / ``protocol_whitelist`` (which FFmpeg
copies to every nested open) forbid any other demuxer and any protocol but ``file``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av

from common.errors import InvalidInput, UnsupportedFormat
from common.media.errors import media_reason

# Container name (ours, recorded on the job) → FFmpeg demuxer to pin.
DEMUXERS: dict[str, str] = {
    "mp4": "mov",
    "matroska": "matroska",
    "avi": "avi",
    "mpegts": "mpegts",
}
# Every name the allowed demuxers answer to; nested opens must match one of these.
FORMAT_WHITELIST = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts"
SAFE_OPTIONS: dict[str, str] = {
    "protocol_whitelist": "file",
    "format_whitelist": FORMAT_WHITELIST,
    # mov: never follow data references to other files (already FFmpeg's default; pinned).
    "enable_drefs": "0",
    "use_absolute_path": "0",
}
_MP4_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"uuid"}
_TS_PACKET = 188


def sniff_container(path: Path) -> str:
    """The allowlisted container ``path`` holds, judged from its first bytes only.

    Raises ``UnsupportedFormat`` for anything else (playlists, images, other containers), and
    ``InvalidInput`` for an empty file.
    """
    with path.open("rb") as handle:
        head = handle.read(_TS_PACKET * 3 + 1)
    if not head:
        raise InvalidInput("El archivo no es un video válido: está vacío")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return "avi"
    if len(head) >= 8 and head[4:8] in _MP4_BOXES:
        return "mp4"
    if len(head) > _TS_PACKET * 2 and all(head[i] == 0x47 for i in (0, 188, 376)):
        return "mpegts"
    raise UnsupportedFormat(
        "Formato de video no soportado: se aceptan MP4/MOV, MKV/WebM, AVI y MPEG-TS"
    )


def open_input(path: Path, container: str | None = None) -> Any:
    """Open ``path`` for demuxing with the pinned demuxer and the safety options."""
    name = container or sniff_container(path)
    try:
        return av.open(str(path), mode="r", format=DEMUXERS[name], options=dict(SAFE_OPTIONS))
    except KeyError:
        raise UnsupportedFormat(f"Formato de video no soportado: {name}") from None
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise InvalidInput(f"El archivo no es un video válido: {media_reason(exc)}") from None
