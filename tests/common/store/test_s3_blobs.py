"""What only the S3 adapter has: its objects and index entries, uploads killed midway,
presigned downloads (moto's S3 server, started by the tests)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from bson import ObjectId, json_util

from common.errors import ConfigError, ServiceUnavailable
from common.jobs.blobs import BlobKind, video_blob
from common.store import Store
from common.store.ids import utcnow
from common.store.s3_blobs import S3BlobStore
from common.store.s3_layout import INDEX, PENDING, S3Location
from tests.embedded import free_port
from tests.s3_server import fresh_location


def _s3(store: Store) -> S3BlobStore:
    assert isinstance(store.blobs, S3BlobStore)
    return store.blobs


def test_location_from_url() -> None:
    where = S3Location.from_url("s3://media/enhancer/prod/", endpoint_url="http://minio:9000")
    assert (where.bucket, where.prefix, where.endpoint_url) == (
        "media", "enhancer/prod/", "http://minio:9000")
    assert S3Location.from_url("s3://media").prefix == ""
    for wrong in ("media/x", "http://media/x", "s3:///x"):
        try:
            S3Location.from_url(wrong)
        except ConfigError:
            continue
        raise AssertionError(f"{wrong} was accepted")


async def test_bytes_are_one_object_under_the_prefix_and_state_an_index_entry(
        s3_store: Store) -> None:
    blobs, video = _s3(s3_store), ObjectId()
    meta = video_blob(video, BlobKind.CHUNK, index=0)
    blob_id = await blobs.put(b"c" * 1000, filename="c.nut", metadata=meta)
    client = blobs.bucket.client
    listed = client.list_objects_v2(Bucket=blobs.where.bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [(f"jobs/{blob_id}", 1000)]
    head = client.head_object(Bucket=blobs.where.bucket, Key=f"jobs/{blob_id}")
    assert json_util.loads(head["Metadata"]["meta"]) == meta
    entry = await s3_store.db[INDEX].find_one({"_id": ObjectId(blob_id)})
    assert entry is not None and entry["length"] == 1000 and PENDING not in entry
    assert await s3_store.db["blobs.files"].count_documents({}) == 0


async def test_sweep_removes_what_a_killed_upload_left(s3_store: Store) -> None:
    blobs = _s3(s3_store)
    client, bucket = blobs.bucket.client, blobs.where.bucket
    # A process killed mid-upload: its pending entry, a multipart upload with one part sent.
    killed = ObjectId.from_datetime(utcnow() - timedelta(hours=2))
    young = ObjectId()
    for oid in (killed, young):
        await s3_store.db[INDEX].insert_one({"_id": oid, "filename": "x", "length": 0,
                                             "content_type": "video/x-nut", PENDING: True,
                                             "uploadDate": utcnow(), "metadata": {}})
        started = client.create_multipart_upload(Bucket=bucket, Key=f"jobs/{oid}")
        client.upload_part(Bucket=bucket, Key=f"jobs/{oid}", PartNumber=1,
                           UploadId=started["UploadId"], Body=b"z" * 1000)
    assert not await blobs.exists(str(killed))  # pending: not a blob yet
    assert await blobs.remove_abandoned_uploads(timedelta(hours=1)) == 1
    open_uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["Key"] for u in open_uploads] == [f"jobs/{young}"]  # still in progress
    assert await s3_store.db[INDEX].count_documents({}) == 1


async def test_presigned_download_serves_the_bytes_with_our_headers(s3_store: Store) -> None:
    blobs = _s3(s3_store)
    blob_id = await blobs.put(b"PNG bytes", filename="r.png", content_type="image/png")
    url = blobs.presigned_download(blob_id, 60, 'attachment; filename="r.png"', "image/png")
    async with httpx.AsyncClient() as client:
        answer = await client.get(url)
    assert answer.status_code == 200 and answer.content == b"PNG bytes"
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="r.png"'


async def test_pods_starting_together_create_the_bucket_once(mongo_url: str,
                                                               s3_endpoint: str) -> None:
    where, name = fresh_location(s3_endpoint), f"test_{uuid.uuid4().hex[:16]}"
    stores = [await Store.connect(mongo_url, name, retry_seconds=10, blobs_at=where)
              for _ in range(3)]
    try:
        await asyncio.gather(*(s.ensure_indexes() for s in stores))
        blob_id = await stores[0].blobs.put(b"x", filename="x")
        assert await stores[2].blobs.get(blob_id) == b"x"
    finally:
        await stores[0].drop_database()
        for s in stores:
            await s.close()


async def test_an_unreachable_store_is_a_service_outage_not_a_bad_config(
        mongo_url: str) -> None:
    where = S3Location(bucket="b", prefix="", endpoint_url=f"http://127.0.0.1:{free_port()}",
                       region="us-east-1", access_key_id="k", secret_access_key="s")
    store = await Store.connect(mongo_url, f"test_{uuid.uuid4().hex[:16]}", retry_seconds=10,
                                blobs_at=where)
    try:
        with pytest.raises(ServiceUnavailable):
            await store.ensure_indexes()
    finally:
        await store.close()
