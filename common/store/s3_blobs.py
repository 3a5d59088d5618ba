"""The S3-compatible adapter of the blob port (MinIO, Ceph RGW, AWS S3): ``BLOB_STORE_URL``.

Bytes are objects in the bucket (``common.store.s3_objects``); what finds them is an index
document per blob in the job database (``common.store.s3_layout``). The index entry is
written first, marked pending, and completed once the object is stored: a process killed in
between leaves a pending entry the sweep removes with whatever object or multipart upload it
names (``remove_abandoned_uploads``), the way GridFS leaves chunks without a file. Deleting
removes the entry first, so readers stop seeing a blob before its bytes go.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bson import ObjectId, json_util
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from common.errors import NotFound, TooLarge
from common.store.blob_port import BlobInfo, BlobSource, BlobStream
from common.store.ids import parse_object_id, utcnow
from common.store.s3_layout import INDEX, PENDING, S3Location, metadata_query
from common.store.s3_objects import Bucket

_DONE = {PENDING: {"$exists": False}}


class S3BlobStore:
    def __init__(self, db: AsyncDatabase[Any], where: S3Location) -> None:
        self.where = where
        self.bucket = Bucket(where)
        self._index = db[INDEX]

    async def ensure_indexes(self) -> None:
        await self.bucket.ensure()
        await self._index.create_indexes([
            IndexModel([("metadata.video_id", ASCENDING)], name="metadata_video_id"),
            IndexModel([("metadata.image_id", ASCENDING)], name="metadata_image_id"),
            IndexModel([("uploadDate", ASCENDING)], name="upload_date"),
        ])

    async def put(self, data: BlobSource, *, filename: str,
                  content_type: str = "application/octet-stream",
                  metadata: Mapping[str, Any] | None = None,
                  max_bytes: int | None = None) -> str:
        if isinstance(data, bytes | bytearray | memoryview):
            data = bytes(data)
            if max_bytes is not None and len(data) > max_bytes:
                raise TooLarge(f"{filename} is {len(data)} bytes; the limit is {max_bytes}")
        meta = dict(metadata or {})
        oid = ObjectId()
        await self._index.insert_one({"_id": oid, "filename": filename, "length": 0,
                                      "content_type": content_type, "uploadDate": utcnow(),
                                      "metadata": meta, PENDING: True})
        key = self.bucket.key(str(oid))
        # The object carries its own description too, for operators browsing the bucket.
        fields = {"ContentType": content_type,
                  "Metadata": {"filename": quote(filename), "meta": json_util.dumps(meta)}}
        try:
            length = await self.bucket.upload(key, data, filename=filename,
                                              max_bytes=max_bytes, fields=fields)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._index.delete_one({"_id": oid})
            raise
        done = await self._index.update_one(
            {"_id": oid, PENDING: True},
            {"$set": {"length": length, "uploadDate": utcnow()}, "$unset": {PENDING: ""}})
        if not done.matched_count:  # deleted while uploading (its job was): so are its bytes
            await self.bucket.delete([key])
        return str(oid)

    async def get(self, blob_id: str) -> bytes:
        return b"".join([piece async for piece in await self.open_stream(blob_id)])

    async def open_stream(self, blob_id: str) -> BlobStream:
        info = await self.info(blob_id)
        read, close = await self.bucket.open(self.bucket.key(info.id))
        return BlobStream(info, read, close)

    async def info(self, blob_id: str) -> BlobInfo:
        oid = parse_object_id(blob_id)
        doc = None if oid is None else await self._index.find_one({"_id": oid, **_DONE})
        if doc is None:
            raise NotFound(f"blob {blob_id!r} does not exist")
        return BlobInfo(id=str(doc["_id"]), length=int(doc["length"]),
                        filename=str(doc["filename"]), content_type=str(doc["content_type"]),
                        uploaded_at=doc["uploadDate"], metadata=dict(doc["metadata"]))

    async def exists(self, blob_id: str) -> bool:
        oid = parse_object_id(blob_id)
        return oid is not None and await self._index.find_one({"_id": oid, **_DONE},
                                                               {"_id": 1}) is not None

    async def delete(self, blob_id: str) -> None:
        await self.delete_many([blob_id])

    async def delete_many(self, blob_ids: Iterable[str]) -> None:
        oids = [oid for oid in map(parse_object_id, blob_ids) if oid is not None]
        if oids:
            await self._index.delete_many({"_id": {"$in": oids}})
            await self.bucket.delete([self.bucket.key(str(oid)) for oid in oids])

    async def delete_where(self, *, keep: str | None = None, **metadata: Any) -> int:
        return await self.delete_matching(metadata, keep=keep)

    async def delete_matching(self, metadata: Mapping[str, Any], *,
                              keep: str | None = None) -> int:
        query = metadata_query(metadata)
        kept = parse_object_id(keep) if keep is not None else None
        if kept is not None:
            query["_id"] = {"$ne": kept}
        ids = [str(doc["_id"]) async for doc in self._index.find(query, {"_id": 1})]
        await self.delete_many(ids)
        return len(ids)

    async def owned(self, owner_field: str, stored_before: datetime,
                    ) -> AsyncIterator[tuple[str, Any]]:
        found = self._index.find({"uploadDate": {"$lt": stored_before},
                                  f"metadata.{owner_field}": {"$exists": True}},
                                 {"_id": 1, f"metadata.{owner_field}": 1})
        async for blob in found:
            yield str(blob["_id"]), blob["metadata"][owner_field]

    async def remove_abandoned_uploads(self, grace: timedelta) -> int:
        """Entries still pending ``grace`` after their upload began (the id's time): their
        process died; its multipart upload is aborted (parts are stored, and billed, until
        someone does), any object removed, then the entry."""
        cutoff = ObjectId.from_datetime(utcnow() - grace)
        removed = 0
        async for doc in self._index.find({PENDING: True, "_id": {"$lt": cutoff}}, {"_id": 1}):
            key = self.bucket.key(str(doc["_id"]))
            await self.bucket.abort_uploads(key)
            await self.bucket.delete([key])
            removed += (await self._index.delete_one({"_id": doc["_id"]})).deleted_count
        return removed

    def presigned_download(self, blob_id: str, seconds: int, disposition: str,
                           content_type: str) -> str:
        """A URL that downloads the blob for ``seconds`` with these response headers (the
        API redirects to it when BLOB_DOWNLOAD_REDIRECT_SECONDS allows)."""
        return self.bucket.presigned_get(self.bucket.key(blob_id), seconds, disposition,
                                         content_type)
