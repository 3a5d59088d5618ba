"""Which blobs a job owns: kinds, and the metadata every job blob carries.

Every blob of a job has ``metadata = {<owner>: ObjectId, "kind": ...}`` (video chunks also
``"index"``), so "everything of this job" or "this job's temporaries" is one
``BlobStore.delete_where`` away, whoever stored them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bson import ObjectId

IMAGE_OWNER = "image_id"
VIDEO_OWNER = "video_id"


class BlobKind(StrEnum):
    ORIGINAL = "original"  # the upload (images and videos)
    ENHANCED = "enhanced"  # the result (images and videos)
    CHUNK = "chunk"  # a source chunk, decoded and stored losslessly (decode)
    UPSCALED = "upscaled"  # a chunk's enhanced frames (upscale)
    ENCODED = "encoded"  # a chunk in H.264 (encode)


# A video's working files: removed when the job completes, fails or is deleted.
VIDEO_TEMPORARY = (BlobKind.CHUNK, BlobKind.UPSCALED, BlobKind.ENCODED)


KIND = "kind"
INDEX = "index"
# What a blob query may ask for: one kind, or any of several.
Kinds = BlobKind | tuple[BlobKind, ...] | None


def _with(meta: dict[str, Any], kind: Kinds) -> dict[str, Any]:
    if kind is not None:
        meta[KIND] = list(kind) if isinstance(kind, tuple) else kind
    return meta


def image_blob(image_id: ObjectId, kind: Kinds = None) -> dict[str, Any]:
    """The metadata of an image's blob of ``kind`` (also what finds such blobs; no kind:
    every blob of the image)."""
    return _with({IMAGE_OWNER: image_id}, kind)


def video_blob(video_id: ObjectId, kind: Kinds = None, index: int | None = None,
               ) -> dict[str, Any]:
    """The metadata of a video's blob of ``kind`` (chunk blobs also carry their ``index``);
    likewise what finds such blobs."""
    meta = _with({VIDEO_OWNER: video_id}, kind)
    if index is not None:
        meta[INDEX] = index
    return meta
