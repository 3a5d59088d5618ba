"""An unconfirmed publish marks the job failed and surfaces as 503, never a stuck ``pending``;
a job that never got its document leaves no stored original behind."""

from __future__ import annotations

import asyncio

import pytest
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from common.bus import Delivery, MemoryBus
from common.contracts import ImageJobSubmitted, decode
from common.errors import ServiceUnavailable
from common.store import Store
from ingress.errors import status_for
from ingress.submission import submit_job, submit_stored_job

USER = ObjectId()
BLOB = ObjectId()


def _message(job_id: ObjectId) -> ImageJobSubmitted:
    return ImageJobSubmitted(
        image_id=str(job_id), user_id=str(USER), original_blob=str(BLOB), scale=4
    )


async def test_confirmed_publish_leaves_a_pending_job_and_its_message(store: Store) -> None:
    bus = MemoryBus(delivery_limit=3)
    await bus.start()
    seen = []
    arrived = asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        seen.append(decode(delivery.body))
        arrived.set()

    try:
        job_id = await submit_job(
            store.images,
            bus,
            {"status": "pending", "user_id": USER},
            _message,
            failed_status="failed",
        )
        await bus.consume("images", handler)
        await asyncio.wait_for(arrived.wait(), 5)
    finally:
        await bus.close()
    doc = await store.images.find_one({"_id": job_id})
    assert doc is not None and doc["status"] == "pending"
    assert seen == [_message(job_id)]


async def test_unconfirmed_publish_marks_the_job_failed_and_answers_503(store: Store) -> None:
    bus = MemoryBus(delivery_limit=3)
    await bus.start()
    await bus.close()  # a closed bus cannot take the message: the publish is not confirmed
    with pytest.raises(ServiceUnavailable) as info:
        await submit_job(
            store.images,
            bus,
            {"status": "pending", "user_id": USER},
            _message,
            failed_status="failed",
        )
    assert status_for(info.value) == 503
    docs = await store.images.find({"user_id": USER}).to_list()
    assert len(docs) == 1
    assert docs[0]["status"] == "failed"
    assert "no disponible" in docs[0]["error_message"]


async def _stored_job(store: Store) -> dict[str, object]:
    blob = await store.blobs.put(b"original bytes", filename="a.png", metadata={"kind": "original"})
    return {"_id": ObjectId(), "status": "pending", "user_id": USER, "original_blob": blob}


async def test_a_failed_publish_keeps_the_failed_jobs_original(store: Store) -> None:
    bus = MemoryBus(delivery_limit=3)
    await bus.start()
    await bus.close()
    doc = await _stored_job(store)
    with pytest.raises(ServiceUnavailable):
        await submit_stored_job(store.blobs, store.images, bus, doc, _message,
                                failed_status="failed")
    stored = await store.images.find_one({"_id": doc["_id"]})
    assert stored is not None and stored["status"] == "failed"
    assert await store.blobs.get(str(doc["original_blob"])) == b"original bytes"


async def test_a_job_whose_document_never_got_in_leaves_no_original(store: Store) -> None:
    bus = MemoryBus(delivery_limit=3)
    await bus.start()
    taken = await _stored_job(store)
    await store.images.insert_one(dict(taken))
    doc = await _stored_job(store)
    doc["_id"] = taken["_id"]  # the insert fails: that id exists
    try:
        with pytest.raises(DuplicateKeyError):
            await submit_stored_job(store.blobs, store.images, bus, doc, _message,
                                    failed_status="failed")
    finally:
        await bus.close()
    assert not await store.blobs.exists(str(doc["original_blob"]))
    assert await store.blobs.exists(str(taken["original_blob"]))
