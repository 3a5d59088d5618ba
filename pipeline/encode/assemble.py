"""Joining a job's H.264 chunks and the source's audio/subtitles into the final Matroska file.

Video packets are copied from the encoded chunks in order; the source's audio packets are
copied unchanged (bit-identical, hence in sync: both keep the source clock), as are subtitle
packets Matroska accepts. MP4 ``mov_text`` subtitles are not allowed in Matroska: their packets
are rewritten to SubRip (the text without mov_text's 2-byte length prefix and style boxes).
Attachments and chapters are copied too. Streams the muxer refuses, and streams whose codec
FFmpeg cannot name (e.g. an AVI's GAB2 subtitles, whose inner demuxer the pinned format
whitelist keeps closed), are left out and reported; the job records the list.
Packets from the two sources are merged by time so the muxer never has to buffer a whole file.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from common.media.containers import open_input

log = logging.getLogger(__name__)
TEXT_AS_IS = frozenset({"subrip", "srt", "ass", "ssa", "webvtt", "text"})


def assemble(original: Path, container: str | None, encoded: list[Path], out_path: Path,
             *, frame_rate: str | None) -> dict[str, Any]:
    """Mux ``encoded`` chunks (in order) and ``original``'s other streams into ``out_path``."""
    dropped: list[str] = []
    with av.open(str(out_path), mode="w", format="matroska") as out, \
            open_input(original, container) as source, \
            av.open(str(encoded[0]), format="nut") as first:
        template = first.streams.video[0]
        video_out = out.add_stream_from_template(template)
        if frame_rate:  # written as DefaultDuration, read back as the exact avg_frame_rate
            video_out.codec_context.framerate = Fraction(frame_rate)
        width, height = template.codec_context.width, template.codec_context.height
        mapping: dict[int, tuple[Any, bool]] = {}  # source index → (output stream, mov_text)
        for stream in (*source.streams.audio, *source.streams.subtitles):
            if stream.codec_context is None:  # no codec: nothing a muxer could be given
                dropped.append(f"{stream.type}#{stream.index} (codec unknown)")
                continue
            try:
                if stream.type == "subtitle" and stream.codec_context.name == "mov_text":
                    target = out.add_mux_stream("subrip")
                    target.time_base = stream.time_base
                    mapping[stream.index] = (target, True)
                else:
                    mapping[stream.index] = (out.add_stream_from_template(stream), False)
            except ValueError as exc:
                dropped.append(f"{stream.type}#{stream.index} ({exc})")
        for attachment in source.streams.attachments:
            out.add_attachment(attachment.name, attachment.mimetype, bytes(attachment.data))
        try:
            chapters = source.chapters()
            if chapters:
                out.set_chapters(chapters)
        except (AttributeError, av.FFmpegError) as exc:
            dropped.append(f"chapters ({exc})")
        wanted = [source.streams[i] for i in mapping]
        frames = 0
        last_dts: int | None = None
        for _, _, _, packet, kind in heapq.merge(
            _timed(_video_packets(encoded), 0, "video"),
            _timed(source.demux(*wanted) if wanted else iter(()), 1, "source"),
        ):
            if kind == "video":
                packet.stream = video_out
                # No B-frames (see h264.py): decode order is presentation order.
                packet.dts = packet.pts
                if last_dts is not None and packet.dts <= last_dts:
                    packet.dts = min(packet.pts, last_dts + 1)
                last_dts = packet.dts
                frames += 1
            else:
                target, mov_text = mapping[packet.stream.index]
                if mov_text:
                    packet = _subrip_packet(packet)
                packet.stream = target
            out.mux(packet)
    if dropped:
        log.warning("%s: streams left out of the output: %s", out_path.name, dropped)
    return {"frames": frames, "width": width, "height": height, "dropped": dropped}


def _video_packets(paths: list[Path]) -> Iterator[Any]:
    for path in paths:
        with av.open(str(path), format="nut") as chunk:
            yield from chunk.demux(chunk.streams.video[0])


def _timed(packets: Iterator[Any], rank: int,
           kind: str) -> Iterator[tuple[float, int, int, Any, str]]:
    # (time, rank, n) is unique, so the merge never has to compare two packets.
    for n, packet in enumerate(packets):
        if packet.size == 0 or (packet.dts is None and packet.pts is None):
            continue
        when = packet.dts if packet.dts is not None else packet.pts
        yield float(when * packet.time_base), rank, n, packet, kind


def _subrip_packet(packet: Any) -> Any:
    data = bytes(packet)
    length = int.from_bytes(data[:2], "big") if len(data) >= 2 else 0
    text = av.Packet(data[2 : 2 + length])
    text.pts, text.dts, text.duration = packet.pts, packet.dts, packet.duration
    text.time_base = packet.time_base
    return text
