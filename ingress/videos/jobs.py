"""What the video routes do to the database, GridFS and the bus, apart from HTTP.

Submission order: probe (in a worker thread: it may take seconds and runs the container
parser on hostile input) → store the original → insert the document → publish. Nothing is
stored for a file the probe refuses; a failure between storing and inserting removes the
blob again, so no orphan is left.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bson import ObjectId

from common.contracts import VideoSubmitted
from common.errors import NotFound
from common.jobs import fields as F
from common.jobs.blobs import BlobKind, video_blob
from common.jobs.cleanup import purge_video
from common.jobs.status import VideoStatus
from common.logs import bind
from common.media.probe import VideoLimits, probe_video
from common.metrics import JOBS_SUBMITTED
from common.runtime import Runtime
from ingress.auth.current import AuthUser
from ingress.availability import require_models
from ingress.callbacks import callback_for
from ingress.quota import admit_job, release_job
from ingress.submission import submit_stored_job
from ingress.videos.documents import new_video_document
from ingress.videos.upload import StagedVideo

log = logging.getLogger(__name__)

NOT_FOUND = "Video no encontrado"
_READ_CHUNK = 1024 * 1024


def content_type_for(filename: str) -> str:
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as src:
        while piece := await asyncio.to_thread(src.read, _READ_CHUNK):
            yield piece


async def submit_video(runtime: Runtime, user: AuthUser, staged: StagedVideo) -> dict[str, Any]:
    """Probe, store and publish ``staged``; the new document (status ``pending``)."""
    callback = await callback_for(runtime, user.id, staged.callback_url)  # 400 before probing
    await require_models(runtime, staged.model_type, staged.face_enhance)
    limits = VideoLimits.from_settings(runtime.settings, scale=staged.scale)
    probe = await asyncio.to_thread(probe_video, staged.path, limits)
    store = runtime.store
    video_id = ObjectId()
    bind(job_id=str(video_id), kind="video")  # every later line of this request names the job
    await admit_job(runtime, user.id, video_id)
    blob_id = await store.blobs.put(
        _file_chunks(staged.path),
        filename=staged.filename,
        content_type=content_type_for(staged.filename),
        metadata=video_blob(video_id, BlobKind.ORIGINAL),
    )
    doc = new_video_document(
        video_id,
        user.id,
        staged.filename,
        blob_id,
        probe,
        model_type=staged.model_type,
        scale=staged.scale,
        face_enhance=staged.face_enhance,
        skip_similar=staged.skip_similar,
    )
    doc[F.CALLBACK_URL] = callback

    def message(job_id: ObjectId) -> VideoSubmitted:
        return VideoSubmitted(
            video_id=str(job_id),
            user_id=str(user.id),
            original_blob=blob_id,
            model_type=staged.model_type,
            scale=staged.scale,
            face_enhance=staged.face_enhance,
        )

    await submit_stored_job(store.blobs, store.videos, runtime.bus, doc, message,
                            failed_status=VideoStatus.ERROR)
    JOBS_SUBMITTED.labels("video", staged.model_type).inc()
    log.info(
        "video %s accepted: %d frames %dx%d at %s, model %s x%d",
        video_id,
        probe.frame_count,
        probe.width,
        probe.height,
        probe.frame_rate,
        staged.model_type,
        staged.scale,
    )
    return doc


async def delete_video(runtime: Runtime, user: AuthUser, video_id: ObjectId) -> None:
    """Remove the document first (which cancels the job: every stage drops messages of a
    missing video), then every blob and the stages' records of it."""
    store = runtime.store
    result = await store.videos.delete_one({F.ID: video_id, F.USER_ID: user.id})
    if result.deleted_count != 1:
        raise NotFound(NOT_FOUND)
    removed = await purge_video(store, video_id)
    await release_job(store, user.id, video_id)
    log.info("video %s deleted with %d blobs", video_id, removed)
