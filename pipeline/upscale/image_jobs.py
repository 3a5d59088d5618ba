"""The upscale stage's image work: the idempotent ``image.submitted`` handler.

Delivery is at-least-once, and a worker may die between storing a result and recording it, so
the handler is built around one atomic completion update on the image document (filter: still
pending/processing with no ``enhanced_blob``). Whoever wins it owns the result; a loser (a
racing twin, or a job deleted meanwhile) deletes the blob it stored, and the winner removes
copies left by killed attempts. Cancellation is "the document is gone": ingress's DELETE
removes the document first, then its blobs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from common.contracts import OUTPUT_MEDIA, ImageJobSubmitted, Message
from common.errors import EnhancerError, PermanentFailure, ServiceUnavailable
from common.store.ids import parse_object_id, utcnow
from common.store.jobs import transition

if TYPE_CHECKING:
    from common.bus.port import Delivery
    from common.runtime import Runtime
    from pipeline.upscale.engine.engine import EnhanceResult
    from pipeline.upscale.video_chunks import LazyEnhancer

log = logging.getLogger(__name__)

ACTIVE = ("pending", "processing")
FAILURE_PREFIX = "Error procesando imagen: "
REASON_CHARS = 300


def short_reason(reason: str) -> str:
    """The first line, capped: error texts reach the user's response body and list views."""
    lines = reason.strip().splitlines()
    first = lines[0].strip() if lines else ""
    return (first or "error desconocido")[:REASON_CHARS]


async def fail_image(runtime: Runtime, image_id: str, reason: str) -> bool:
    """Move a pending/processing image to ``failed``; True if it moved (False: already
    settled, or deleted). Idempotent: the runner's give-up hook may call it again."""
    moved = await transition(runtime.store.images, image_id, ACTIVE, "failed",
                             {"error_message": FAILURE_PREFIX + short_reason(reason)})
    if moved:
        log.warning("image %s failed: %s", image_id, reason)
    # A killed attempt may have stored a result it never recorded; a failed or deleted job
    # keeps none. A job a twin delivery completed keeps the result it recorded (no later
    # commit can succeed once the job is settled, so nothing else can need a stored blob).
    doc = await runtime.store.images.find_one({"_id": parse_object_id(image_id)},
                                              {"enhanced_blob": 1})
    await runtime.store.blobs.delete_where(image_id=image_id, kind="enhanced",
                                           keep=(doc or {}).get("enhanced_blob"))
    return moved


def image_handler(runtime: Runtime, engine: LazyEnhancer) -> Callable[[Message, Delivery], Any]:
    async def handle(message: Message, delivery: Delivery) -> None:
        assert isinstance(message, ImageJobSubmitted)
        await handle_image_submitted(runtime, engine, message)

    return handle


async def handle_image_submitted(runtime: Runtime, engine: LazyEnhancer,
                                 msg: ImageJobSubmitted) -> None:
    store = runtime.store
    oid = parse_object_id(msg.image_id)
    doc = None if oid is None else await store.images.find_one({"_id": oid})
    if doc is None:
        log.info("image %s was deleted; message dropped", msg.image_id)
        await store.blobs.delete_where(image_id=msg.image_id, kind="enhanced")
        return
    if doc.get("status") not in ACTIVE:
        return  # completed or failed: a late duplicate
    started = time.perf_counter()
    # A redelivery finds "processing" (an earlier attempt died or is still running): go on.
    await transition(store.images, msg.image_id, ["pending"], "processing",
                     {"started_at": utcnow()})
    try:
        original = await store.blobs.get(doc.get("original_blob") or msg.original_blob)
        result = await asyncio.get_running_loop().run_in_executor(
            engine.executor, functools.partial(_enhance, engine, original, msg))
    except ServiceUnavailable:
        raise  # the database or broker is away: the bus retries later
    except EnhancerError as exc:
        # Bad input, missing weights, budgets, a lost original: retrying cannot help.
        if await fail_image(runtime, msg.image_id, str(exc)):
            raise PermanentFailure(str(exc)) from exc
        return  # deleted or settled meanwhile: nothing to report to anyone
    await _commit(runtime, msg, result, started)


def _enhance(engine: LazyEnhancer, original: bytes, msg: ImageJobSubmitted) -> EnhanceResult:
    # Runs on the engine thread, including the first Enhancer's creation: importing torch and
    # loading weights would otherwise block the event loop (and the heartbeats) for seconds.
    return engine.get().enhance_image(
        original, model_type=msg.model_type, scale=msg.scale, output_width=msg.output_width,
        output_height=msg.output_height, face_enhance=msg.face_enhance,
        output_format=msg.output_format)


async def _commit(runtime: Runtime, msg: ImageJobSubmitted, result: EnhanceResult,
                  started: float) -> None:
    """Store the result and record it in one guarded update; clean up whichever side lost."""
    store = runtime.store
    content_type, extension = OUTPUT_MEDIA[result.format]
    blob_id = await store.blobs.put(
        result.data, filename=f"{msg.image_id}-enhanced.{extension}", content_type=content_type,
        metadata={"image_id": msg.image_id, "kind": "enhanced"})
    now = utcnow()
    fields: dict[str, Any] = {
        "status": "completed", "enhanced_blob": blob_id, "enhanced_width": result.width,
        "enhanced_height": result.height, "gpu_used": result.gpu_used,
        "processing_time_ms": max(1, int((time.perf_counter() - started) * 1000)),
        "completed_at": now, "updated_at": now,
    }
    won = await store.images.update_one(
        {"_id": parse_object_id(msg.image_id), "status": {"$in": list(ACTIVE)},
         "enhanced_blob": None},
        {"$set": fields})
    if won.modified_count != 1:
        log.info("image %s was deleted or completed by another delivery; result dropped",
                 msg.image_id)
        await store.blobs.delete(blob_id)
        return
    leftovers = await store.blobs.delete_where(image_id=msg.image_id, kind="enhanced",
                                               keep=blob_id)
    log.info("image %s enhanced to %dx%d in %d ms (engine %d ms)%s", msg.image_id,
             result.width, result.height, fields["processing_time_ms"], result.elapsed_ms,
             f"; {leftovers} blob(s) of earlier attempts removed" if leftovers else "")
