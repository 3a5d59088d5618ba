"""The upscale stage's image work: the idempotent ``image.submitted`` handler.

Delivery is at-least-once, and a worker may die between storing a result and recording it, so
the handler is built around one atomic completion update on the image document (filter: still
pending/processing with no ``enhanced_blob``). Whoever wins it owns the result; a loser (a
racing twin, or a job deleted meanwhile) deletes the blob it stored, and the winner removes
copies left by killed attempts. Cancellation is "the document is gone": ingress's DELETE
removes the document first, then its blobs.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from common.contracts import OUTPUT_MEDIA, ImageJobSubmitted
from common.errors import EnhancerError, ModelUnavailable, PermanentFailure, ServiceUnavailable
from common.jobs import fields as F
from common.jobs.blobs import BlobKind, image_blob
from common.jobs.lifecycle import ended, keep_if_claimed
from common.jobs.status import IMAGE_ACTIVE, IMAGE_ERROR_PREFIX, ImageStatus
from common.media.errors import without_paths
from common.model_status import MODEL_UNAVAILABLE
from common.store.ids import utcnow
from common.store.jobs import transition
from pipeline.cancellation import StopToken, run_stoppable
from pipeline.runner import stop_token

if TYPE_CHECKING:
    from common.runtime import Runtime
    from pipeline.upscale.engine.engine import EnhanceResult
    from pipeline.upscale.enhancer import LazyEnhancer, UpscaleContext

log = logging.getLogger(__name__)

FAILURE_PREFIX = IMAGE_ERROR_PREFIX
REASON_CHARS = 300


def short_reason(reason: str) -> str:
    """The first line, capped, naming no server file: error texts reach the user's response
    body and list views."""
    lines = without_paths(reason).strip().splitlines()
    first = lines[0].strip() if lines else ""
    return (first or "error desconocido")[:REASON_CHARS]


async def _remove_results(runtime: Runtime, image_id: ObjectId, keep: str | None = None) -> int:
    """Result blobs of ``image_id`` but ``keep``: copies left by killed or losing attempts."""
    return await runtime.store.blobs.delete_matching(image_blob(image_id, BlobKind.ENHANCED),
                                                     keep=keep)


async def fail_image(runtime: Runtime, image_id: ObjectId, reason: str,
                     code: str | None = None) -> bool:
    """Move a pending/processing image to ``failed``; True if it moved (False: already
    settled, or deleted). Idempotent: the runner's give-up hook may call it again. ``code``
    tells the API which answer the failure deserves (``MODEL_UNAVAILABLE``: 503, whose
    message names commands and is kept whole)."""
    text = reason.strip()[:1000] if code == MODEL_UNAVAILABLE else short_reason(reason)
    moved = await transition(runtime.store.images, image_id, IMAGE_ACTIVE, ImageStatus.FAILED,
                             {F.ERROR_MESSAGE: FAILURE_PREFIX + text, F.ERROR_CODE: code})
    # A killed attempt may have stored a result it never recorded; a failed or deleted job
    # keeps none. A job a twin delivery completed keeps the result it recorded (no later
    # commit can succeed once the job is settled, so nothing else can need a stored blob).
    doc = await runtime.store.images.find_one(
        {F.ID: image_id}, {F.ENHANCED_BLOB: 1, F.MODEL_TYPE: 1, F.CREATED_AT: 1})
    if moved:
        log.warning("image %s failed: %s", image_id, reason)
    # Also on a repeat: see common.jobs.lifecycle.
    doc = doc or {}
    await ended(runtime, "image", image_id, moved=moved, status=ImageStatus.FAILED,
                model=str(doc.get(F.MODEL_TYPE)), created_at=doc.get(F.CREATED_AT))
    await _remove_results(runtime, image_id, keep=doc.get(F.ENHANCED_BLOB))
    return moved


async def handle_image_submitted(ctx: UpscaleContext, msg: ImageJobSubmitted) -> None:
    runtime, engine = ctx.runtime, ctx.engine
    store = runtime.store
    image_id = ObjectId(msg.image_id)  # the contract guarantees the 24-hex form
    doc = await store.images.find_one({F.ID: image_id})
    if doc is None:
        log.info("image %s was deleted; message dropped", image_id)
        await _remove_results(runtime, image_id)
        return
    if doc.get(F.STATUS) not in IMAGE_ACTIVE:
        # Completed or failed: a late duplicate, maybe of a delivery that died before
        # asking for the webhook.
        await ended(runtime, "image", image_id, moved=False, status=str(doc.get(F.STATUS)),
                    model=msg.model_type, created_at=doc.get(F.CREATED_AT))
        return
    started = time.perf_counter()
    # A redelivery finds the job processing (an earlier attempt died or is still running).
    await transition(store.images, image_id, [ImageStatus.PENDING], ImageStatus.PROCESSING,
                     {F.STARTED_AT: utcnow()})
    try:
        original = await store.blobs.get(doc.get(F.ORIGINAL_BLOB) or msg.original_blob)
        # The engine thread logs with this job's context too (run_stoppable copies it).
        stop = stop_token()
        result = await run_stoppable(
            engine.executor, functools.partial(_enhance, engine, original, msg, stop), stop)
    except ServiceUnavailable:
        raise  # the database or broker is away: the bus retries later
    except EnhancerError as exc:
        # Bad input, missing weights, budgets, a lost original: retrying cannot help.
        code = MODEL_UNAVAILABLE if isinstance(exc, ModelUnavailable) else None
        if await fail_image(runtime, image_id, str(exc), code):
            raise PermanentFailure(str(exc)) from exc
        return  # deleted or settled meanwhile: nothing to report to anyone
    if await _commit(runtime, image_id, msg, result, started):
        await ended(runtime, "image", image_id, moved=True, status=ImageStatus.COMPLETED,
                    model=msg.model_type, created_at=doc.get(F.CREATED_AT))


def _enhance(engine: LazyEnhancer, original: bytes, msg: ImageJobSubmitted,
             stop: StopToken) -> EnhanceResult:
    # Runs on the engine thread, including the first Enhancer's creation: importing torch and
    # loading weights would otherwise block the event loop (and the heartbeats) for seconds.
    return engine.get().enhance_image(
        original, model_type=msg.model_type, scale=msg.scale, output_width=msg.output_width,
        output_height=msg.output_height, face_enhance=msg.face_enhance,
        output_format=msg.output_format, stop=stop)


async def _commit(runtime: Runtime, image_id: ObjectId, msg: ImageJobSubmitted,
                  result: EnhanceResult, started: float) -> bool:
    """Store the result and record it in one guarded update; clean up whichever side lost.
    True when this delivery's result is the job's."""
    store = runtime.store
    content_type, extension = OUTPUT_MEDIA[result.format]
    blob_id = await store.blobs.put(
        result.data, filename=f"{image_id}-enhanced.{extension}", content_type=content_type,
        metadata=image_blob(image_id, BlobKind.ENHANCED))
    now = utcnow()
    elapsed_ms = max(1, int((time.perf_counter() - started) * 1000))
    fields: dict[str, Any] = {
        F.STATUS: ImageStatus.COMPLETED, F.ENHANCED_BLOB: blob_id,
        F.ENHANCED_WIDTH: result.width, F.ENHANCED_HEIGHT: result.height,
        F.GPU_USED: result.gpu_used, F.PROCESSING_TIME_MS: elapsed_ms,
        F.COMPLETED_AT: now, F.UPDATED_AT: now,
    }
    won = await store.images.update_one(
        {F.ID: image_id, F.STATUS: {"$in": list(IMAGE_ACTIVE)}, F.ENHANCED_BLOB: None},
        {"$set": fields})
    if won.modified_count != 1:
        current = await store.images.find_one({F.ID: image_id}, {F.ENHANCED_BLOB: 1})
        if not await keep_if_claimed(store, blob_id, (current or {}).get(F.ENHANCED_BLOB)):
            log.info("image %s was deleted or completed by another delivery; result dropped",
                     image_id)
            return False
        # This update's first attempt was applied and its answer lost (the database
        # restarted): a retry finds nothing left to change, but the image is ours.
    leftovers = await _remove_results(runtime, image_id, keep=blob_id)
    log.info("image %s enhanced to %dx%d in %d ms (engine %d ms)%s", image_id,
             result.width, result.height, elapsed_ms, result.elapsed_ms,
             f"; {leftovers} blob(s) of earlier attempts removed" if leftovers else "")
    return True
