"""What the image routes do to the database, GridFS and the bus, apart from HTTP.

Submission order: store the original → insert the document (status ``pending``) → publish
``ImageJobSubmitted``; the bytes were checked before (``checks.check_image``), so nothing is
stored for a refused image. A failure between storing and inserting removes the blob again.
The request then waits for the worker's notice that the job ended (``common.jobs.notices``:
the in-process bus or the RabbitMQ fan-out), reading the document, which stays the truth, when
it arrives; a slow poll of the document is the fallback for a lost notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from typing import Any

from bson import ObjectId

from common.contracts import ImageJobSubmitted
from common.errors import NotFound
from common.jobs import fields as F
from common.jobs.blobs import BlobKind, image_blob
from common.jobs.cleanup import purge_image
from common.jobs.notices import FinishedWaiters
from common.jobs.status import IMAGE_FINISHED, ImageStatus
from common.logs import bind
from common.metrics import JOBS_SUBMITTED
from common.runtime import Runtime
from ingress.auth.current import AuthUser
from ingress.callbacks import callback_for
from ingress.downloads import blob_base64
from ingress.images.checks import CheckedImage
from ingress.images.documents import detail_view, new_image_document, original_filename
from ingress.images.upload import ImageUpload
from ingress.quota import admit_job, release_job
from ingress.submission import submit_stored_job

log = logging.getLogger(__name__)

NOT_FOUND = "Imagen no encontrada"
# Without notices the client waited for the first poll after the job was done (on average
# half an interval: ~75 ms of the ~190 ms the API added to a 0.9 s job, bench/images.py).
# Now the notice wakes the request; polls remain for a notice that never comes: they start
# at 25 ms and grow to 250 ms when notices are unavailable, to 1 s when they are (a lost
# notice costs at most a second; a find by _id costs ~1 ms).
_FIRST_POLL = 0.025
_MAX_POLL = 0.25
_MAX_POLL_NOTIFIED = 1.0
_POLL_GROWTH = 1.25


async def submit_image(
    runtime: Runtime, user: AuthUser, upload: ImageUpload, checked: CheckedImage
) -> dict[str, Any]:
    """Store and publish a checked upload; the new document (status ``pending``)."""
    store = runtime.store
    callback = await callback_for(runtime, user.id, upload.callback_url)  # 400 before storing
    image_id = ObjectId()
    bind(job_id=str(image_id), kind="image")  # every later line of this request names the job
    await admit_job(runtime, user.id, image_id)
    blob_id = await store.blobs.put(
        upload.data,
        filename=original_filename(upload, checked),
        content_type=checked.content_type,
        metadata=image_blob(image_id, BlobKind.ORIGINAL),
    )
    doc = new_image_document(image_id, user.id, blob_id, upload, checked)
    doc[F.CALLBACK_URL] = callback

    def message(job_id: ObjectId) -> ImageJobSubmitted:
        return ImageJobSubmitted(
            image_id=str(job_id),
            user_id=str(user.id),
            original_blob=blob_id,
            model_type=upload.model_type,
            scale=upload.scale,
            output_width=upload.output_width,
            output_height=upload.output_height,
            face_enhance=upload.face_enhance,
            output_format=upload.output_format,
        )

    await submit_stored_job(store.blobs, store.images, runtime.bus, doc, message,
                            failed_status=ImageStatus.FAILED)
    JOBS_SUBMITTED.labels("image", upload.model_type).inc()
    log.info(
        "image %s accepted: %s %dx%d, model %s x%d, output %dx%d %s",
        image_id,
        checked.format,
        checked.width,
        checked.height,
        upload.model_type,
        upload.scale,
        checked.output_width,
        checked.output_height,
        upload.output_format,
    )
    return doc


async def wait_for_image(
    runtime: Runtime,
    image_id: ObjectId,
    seconds: float,
    gone: Callable[[], Awaitable[bool]] | None = None,
    notices: FinishedWaiters | None = None,
) -> dict[str, Any] | None:
    """The document once completed or failed, or as it is when ``seconds`` have passed (or
    ``gone()`` says the client left); None if it was deleted meanwhile. With ``notices`` the
    worker's notice ends the wait at once; polling is the fallback."""
    ceiling = _MAX_POLL_NOTIFIED if notices and await notices.listening() else _MAX_POLL
    with notices.waiting("image", image_id) if notices else nullcontext(None) as notice:
        return await _wait(runtime, image_id, seconds, gone, notice, ceiling)


async def _wait(runtime: Runtime, image_id: ObjectId, seconds: float,
                gone: Callable[[], Awaitable[bool]] | None, notice: asyncio.Event | None,
                ceiling: float) -> dict[str, Any] | None:
    images = runtime.store.images
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    pause = _FIRST_POLL
    while True:
        doc = await images.find_one({F.ID: image_id})
        if doc is None or doc[F.STATUS] in IMAGE_FINISHED:
            return doc
        left = deadline - loop.time()
        if left <= 0 or (gone is not None and await gone()):
            return doc
        if notice is None:
            await asyncio.sleep(min(pause, left))
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(notice.wait(), min(pause, left))
            notice.clear()
        pause = min(pause * _POLL_GROWTH, ceiling)


async def full_view(runtime: Runtime, doc: dict[str, Any]) -> dict[str, Any]:
    """The manual's object with both base64 fields; the enhanced one stays null until the
    image is completed."""
    done = doc.get(F.STATUS) == ImageStatus.COMPLETED
    enhanced_blob = doc.get(F.ENHANCED_BLOB) if done else None
    original, enhanced = await asyncio.gather(
        blob_base64(runtime, doc.get(F.ORIGINAL_BLOB)),
        blob_base64(runtime, enhanced_blob),
    )
    return detail_view(doc, (original, enhanced))


async def delete_image(runtime: Runtime, user: AuthUser, image_id: ObjectId) -> None:
    """Remove the document first (which cancels the job: the worker drops a message of a
    missing image and discards a result it can no longer attach), then every blob of it."""
    store = runtime.store
    result = await store.images.delete_one({F.ID: image_id, F.USER_ID: user.id})
    if result.deleted_count != 1:
        raise NotFound(NOT_FOUND)
    removed = await purge_image(store, image_id)
    await release_job(store, user.id, image_id)
    log.info("image %s deleted with %d blobs", image_id, removed)
