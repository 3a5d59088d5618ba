"""Chunk records (collection ``chunks``): which blob each stage stored for one video chunk.

One record per ``(video_id, index)`` (a unique index), ``video_id`` an ObjectId like the
video document's ``_id``. Decode creates it with the source chunk's blob; upscale and encode
each claim their own ``<kind>_blob`` field once, so a redelivered message reuses what an
earlier delivery stored. The records are the stages' working state: the API never reads them,
and removes them only through ``common.jobs.cleanup``.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from common.jobs.blobs import BlobKind

VIDEO_ID = "video_id"
INDEX = "index"
FRAME_COUNT = "frame_count"
FIRST_PTS = "first_pts"
# When an upscale worker first took the chunk (``created_at`` is when decode stored it): with
# the split streaming, the first chunk is taken while later ones are still being cut.
UPSCALE_STARTED_AT = "upscale_started_at"


def chunk_filter(video_id: ObjectId, index: int | None = None) -> dict[str, Any]:
    """The record of chunk ``index`` of a video, or (index None) all of the video's."""
    found: dict[str, Any] = {VIDEO_ID: video_id}
    if index is not None:
        found[INDEX] = index
    return found


def blob_field(kind: BlobKind) -> str:
    """The record's field holding the blob a stage stored (``chunk_blob``, ``upscaled_blob``,
    ``encoded_blob``); the stage's figures for it live under ``kind`` itself."""
    return f"{kind}_blob"
