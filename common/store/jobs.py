"""Atomic job-document primitives shared by ingress and the stages (images and videos alike).

Every stage consumes at-least-once messages, so any update may run twice, concurrently, in
another process. Each primitive is therefore a single ``update_one`` whose *filter* carries
the precondition: the server applies filter and update to one document atomically, so no
read-modify-write race and no lock are needed, on MongoDB and SecantusDB alike.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from common.jobs import fields as F
from common.store.ids import parse_object_id, utcnow

Doc = dict[str, Any]
JobId = ObjectId | str
ProgressKey = str | int


async def get_owned(
    coll: AsyncCollection[Doc],
    job_id: JobId,
    user_id: Any,
    projection: Mapping[str, Any] | None = None,
) -> Doc | None:
    """The job if it exists and belongs to ``user_id``; else None, so that a missing job, a
    malformed id and someone else's job are indistinguishable (all 404: ids don't leak)."""
    oid = parse_object_id(job_id)
    if oid is None:
        return None
    return await coll.find_one({F.ID: oid, F.USER_ID: user_id}, projection)


async def transition(
    coll: AsyncCollection[Doc],
    job_id: JobId,
    from_states: Collection[str],
    to_state: str,
    set_fields: Mapping[str, Any] | None = None,
) -> bool:
    """Move ``status`` to ``to_state`` only from one of ``from_states``; True if it moved.

    Callers list only the states that precede ``to_state``, so a late or duplicate message
    can never move a job backwards, and of two racing writers exactly one wins. A malformed
    or unknown id moves nothing. ``updated_at`` is stamped on every move.
    """
    if isinstance(from_states, str):
        raise TypeError("from_states must be a collection of states, not one string")
    fields = dict(set_fields or {})
    if F.STATUS in fields:
        raise ValueError("set the status through to_state, not set_fields")
    oid = parse_object_id(job_id)
    if oid is None:
        return False
    result = await coll.update_one(
        {F.ID: oid, F.STATUS: {"$in": list(from_states)}},
        {"$set": {**fields, F.STATUS: to_state, F.UPDATED_AT: utcnow()}},
    )
    return result.modified_count == 1


def _progress_update(
    job_id: JobId,
    key: ProgressKey,
    field: str,
    amount: int,
    in_states: Collection[str] | None,
    done_field: str | None,
) -> tuple[Doc, Doc] | None:
    if isinstance(key, bool) or not isinstance(key, str | int):
        raise TypeError(f"progress keys are str or int, not {type(key).__name__}")
    oid = parse_object_id(job_id)
    if oid is None:
        return None
    # One key set per counter: chunk 3 counted for "upscaled" must not block it for "encoded".
    done = done_field or f"{F.PROGRESS_KEYS}.{field}"
    filter_: Doc = {F.ID: oid, done: {"$ne": key}}
    if in_states is not None:
        filter_[F.STATUS] = {"$in": list(in_states)}
    update: Doc = {
        "$inc": {field: amount},
        "$addToSet": {done: key},
        "$set": {F.UPDATED_AT: utcnow()},
    }
    return filter_, update


async def add_progress_once(
    coll: AsyncCollection[Doc],
    job_id: JobId,
    key: ProgressKey,
    field: str,
    amount: int,
    *,
    in_states: Collection[str] | None = None,
    done_field: str | None = None,
) -> bool:
    """Add ``amount`` to ``field`` unless ``key`` was already counted; True if it counted.

    The key (e.g. a chunk index) joins the set ``done.<field>`` in the same atomic update
    whose filter excludes it, so a redelivered message, even one processed concurrently in
    another process, is counted exactly once. Keys should be coarse (chunks, not frames): the
    set lives in the job document. ``in_states`` also requires the job to be in one of them
    (e.g. no progress on a failed job).
    """
    spec = _progress_update(job_id, key, field, amount, in_states, done_field)
    if spec is None:
        return False
    result = await coll.update_one(*spec)
    return result.modified_count == 1


async def add_progress_once_returning(
    coll: AsyncCollection[Doc],
    job_id: JobId,
    key: ProgressKey,
    field: str,
    amount: int,
    *,
    in_states: Collection[str] | None = None,
    done_field: str | None = None,
) -> Doc | None:
    """``add_progress_once`` that returns the job as it is after the increment (None when
    nothing counted), so the caller that added the last piece knows it is the last one
    (compare the counter to the total, then ``transition`` to settle any race)."""
    spec = _progress_update(job_id, key, field, amount, in_states, done_field)
    if spec is None:
        return None
    return await coll.find_one_and_update(*spec, return_document=ReturnDocument.AFTER)


# A part's progress moves under compare-and-set; only twin deliveries of one part contend.
_ADVANCE_ATTEMPTS = 20


async def advance_progress(
    coll: AsyncCollection[Doc],
    job_id: JobId,
    part: ProgressKey,
    reached: int,
    field: str,
    *,
    in_states: Collection[str] | None = None,
) -> int:
    """Record that ``part`` (a chunk) has reached ``reached`` and add what it adds to
    ``field``; return the amount added (0: already counted that far, or the job left
    ``in_states``).

    The part's own figure lives in ``done.parts.<field>.<part>`` and moves only up, in one
    update whose filter requires the figure read just before: a redelivered chunk that
    reports its batches again adds nothing until it passes where the dead delivery got to,
    and two deliveries racing on one chunk add each frame once. So ``field`` advances batch
    by batch, never backwards, and ends at the exact total. A part already counted whole by
    ``add_progress_once`` (its key in ``done.<field>``, the previous release's way) adds
    nothing more.
    """
    oid = parse_object_id(job_id)
    if oid is None:
        return 0
    path = f"{F.PROGRESS_KEYS}.{F.PART_PROGRESS}.{field}.{part}"
    for _ in range(_ADVANCE_ATTEMPTS):
        doc = await coll.find_one({F.ID: oid}, {F.PROGRESS_KEYS: 1})
        if doc is None:
            return 0
        done = doc.get(F.PROGRESS_KEYS) or {}
        if part in (done.get(field) or []):
            return 0
        before = int(((done.get(F.PART_PROGRESS) or {}).get(field) or {}).get(str(part)) or 0)
        if before >= reached:
            return 0
        filter_: Doc = {F.ID: oid, path: before if before else {"$exists": False},
                        f"{F.PROGRESS_KEYS}.{field}": {"$ne": part}}
        if in_states is not None:
            filter_[F.STATUS] = {"$in": list(in_states)}
        result = await coll.update_one(filter_, {
            "$set": {path: reached, F.UPDATED_AT: utcnow()},
            "$inc": {field: reached - before},
        })
        if result.modified_count == 1:
            return reached - before
        if in_states is not None and await coll.count_documents(
                {F.ID: oid, F.STATUS: {"$in": list(in_states)}}) == 0:
            return 0
    raise RuntimeError(f"progress of {job_id} part {part} kept changing under this update")
