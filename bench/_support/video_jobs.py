"""Video jobs as ingress makes them, and the pipeline's stage handlers run in this process on
an in-process bus: what the video benches and the video tests both drive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bson import ObjectId

from common.bus.memory import MemoryBus
from common.contracts import VideoSubmitted
from common.media import VideoLimits, probe_video
from common.runtime import Runtime
from common.settings import Settings
from common.store import Store
from common.store.ids import utcnow
from pipeline.runner import Stage, start_stages, stop_stages

USER = ObjectId("65f0c0ffee0123456789abcd")


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
