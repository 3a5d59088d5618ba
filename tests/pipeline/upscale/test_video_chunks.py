"""Repeated frames through the three real stages (decode → upscale → encode) on the in-process
bus, real anime_video weights: a Big Buck Bunny clip held on twos, with AAC audio, as an
anime release stores it (Matroska, millisecond timestamps at 24 fps). The job counts every
frame once, reports the reused ones and the metric, and keeps timing and audio exact."""

from __future__ import annotations

import logging
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from bson import ObjectId
from prometheus_client import REGISTRY

from bench._support.held_frames import TIME_BASE, drawings, held, stamps
from common.jobs.views import video_summary
from common.messaging import publish
from common.skip_similar import DEFAULT_DB
from common.store import Store
from common.store.ids import utcnow
from pipeline.decode.stage import STAGE as DECODE
from pipeline.encode.stage import STAGE as ENCODE
from pipeline.upscale.stage import STAGE as UPSCALE
from tests.common.media.clips import MS, add_audio, audio_packets_md5, timing_error
from tests.pipeline.video_support import (
    anime_models,
    create_job,
    running_stages,
    video_settings,
    wait_for_status,
)

__all__ = ["anime_models"]  # the fixture, imported so pytest finds it here

DRAWINGS, HOLD = 8, 2
_CHUNK_LINE = re.compile(r"chunk (\d+): (\d+) frames \((\d+) reused\)")


def anime_release(path: Path, frames: list[np.ndarray]) -> Path:
    """H.264 (lossless, so a held drawing decodes to the same pixels every time it is shown,
    as x264's skipped blocks give in a real release) with AAC, in Matroska at 24 fps."""
    height, width = frames[0].shape[:2]
    out: Any = av.open(str(path), mode="w")
    video = out.add_stream("libx264", rate=24, options={"qp": "0", "preset": "ultrafast",
                                                         "g": "1", "bf": "0"})
    video.width, video.height, video.pix_fmt = width, height, "yuv444p"
    video.codec_context.time_base = TIME_BASE
    packets: list[Any] = []
    for frame, stamp in zip(frames, stamps(len(frames)), strict=True):
        picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
        picture.pts, picture.time_base = stamp, TIME_BASE
        packets.extend(video.encode(picture))
    packets.extend(video.encode(None))
    packets.extend(add_audio(out, len(frames) / 24))
    packets.sort(key=lambda p: float((p.dts if p.dts is not None else 0) * p.time_base))
    for packet in packets:
        out.mux(packet)
    out.close()
    return path


def reused_metric(model: str) -> float:
    return REGISTRY.get_sample_value("enhancer_frames_reused_total", {"model": model}) or 0.0


async def run_job(store: Store, tmp_path: Path, models: Path, source: Path,
                  skip_similar: float | None) -> tuple[dict[str, Any], Path]:
    settings = video_settings(tmp_path, models, video_chunk_seconds=0.2)
    message = await create_job(store, source, scale=1)
    await store.videos.update_one({"_id": ObjectId(message.video_id)},
                                  {"$set": {"skip_similar": skip_similar}})
    async with running_stages(store, settings, [DECODE, UPSCALE, ENCODE]) as runtime:
        await publish(runtime.bus, message)
        video = await wait_for_status(store, message.video_id, {"completed", "error"},
                                      within=300)
    assert video["status"] == "completed", video.get("error_message")
    output = tmp_path / f"{message.video_id}.mkv"
    output.write_bytes(await store.blobs.get(video["enhanced_blob"]))
    return video, output


def chunk_starts(caplog: pytest.LogCaptureFixture) -> list[int]:
    """The first frame index of each chunk, from the upscale stage's per-chunk log lines."""
    sizes = {}
    for record in caplog.records:
        found = _CHUNK_LINE.search(record.getMessage())
        if found:
            sizes[int(found[1])] = int(found[2])
    return [sum(sizes[i] for i in range(index)) for index in sorted(sizes)]


async def test_a_clip_on_twos_reuses_every_hold_and_keeps_time_and_audio(
        store: Store, tmp_path: Path, anime_models: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.upscale.video_chunks")
    source = anime_release(tmp_path / "twos.mkv", held(drawings(DRAWINGS, (64, 36)), HOLD))
    before = reused_metric("anime_video")
    video, output = await run_job(store, tmp_path, anime_models, source, None)
    assert video["frames_processed"] == video["frame_count"] == DRAWINGS * HOLD
    # Chunks are cut inside holds (a chunk starting on a held copy, odd index), and every
    # hold is still reused: one worker takes one chunk at a time, in order, so the previous
    # chunk's tail is at hand each time.
    starts = chunk_starts(caplog)
    assert len(starts) == video["chunk_count"] >= 2
    assert any(start % HOLD for start in starts), starts
    assert video["frames_reused"] == DRAWINGS * (HOLD - 1)
    assert reused_metric("anime_video") - before == video["frames_reused"]
    assert video_summary(video, utcnow())["frames_reused"] == video["frames_reused"]
    assert timing_error(source, output) <= MS
    assert audio_packets_md5(output) == audio_packets_md5(source)
    with av.open(str(output)) as media:
        times = [f.pts * Fraction(f.time_base) for f in media.decode(media.streams.video[0])]
    assert len(times) == DRAWINGS * HOLD and times == sorted(set(times))


async def test_near_repeats_on_request_skip_noisy_holds(
        store: Store, tmp_path: Path, anime_models: Path) -> None:
    frames = held(drawings(DRAWINGS, (64, 36)), HOLD, noise=2.0)
    source = anime_release(tmp_path / "noisy.mkv", frames)
    exact, _ = await run_job(store, tmp_path, anime_models, source, None)
    near, output = await run_job(store, tmp_path, anime_models, source, DEFAULT_DB)
    assert exact["frames_reused"] == 0  # noisy copies are no exact repeats
    assert near["frames_reused"] == DRAWINGS * (HOLD - 1)
    assert near["frames_processed"] == near["frame_count"] == DRAWINGS * HOLD
    assert timing_error(source, output) <= MS
    assert audio_packets_md5(output) == audio_packets_md5(source)
