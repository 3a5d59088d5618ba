"""Removing what a job left behind: used by the API's DELETE and by the stages alike.

Cancellation is "the document is gone": the API deletes the document first, then calls
``purge_*``, and every stage that later meets the job finds no document and calls
``remove_video_temporaries`` for what it stored meanwhile. Each call is idempotent.
"""

from __future__ import annotations

from bson import ObjectId

from common.jobs.blobs import VIDEO_TEMPORARY, image_blob, video_blob
from common.jobs.chunks import chunk_filter
from common.store.client import Store


async def remove_video_temporaries(store: Store, video_id: ObjectId) -> int:
    """A video's working blobs and chunk records (job done, failed or cancelled); the
    original and the result stay. Returns how many blobs went."""
    removed = await store.blobs.delete_matching(video_blob(video_id, VIDEO_TEMPORARY))
    await store.chunks.delete_many(chunk_filter(video_id))
    return removed


async def purge_video(store: Store, video_id: ObjectId) -> int:
    """Every blob of a deleted video and the stages' records of it; how many blobs went."""
    removed = await store.blobs.delete_matching(video_blob(video_id))
    await store.chunks.delete_many(chunk_filter(video_id))
    return removed


async def purge_image(store: Store, image_id: ObjectId) -> int:
    """Every blob of a deleted image; how many went."""
    return await store.blobs.delete_matching(image_blob(image_id))
