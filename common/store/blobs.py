"""The GridFS adapter of the blob port (``common.store.blob_port``): the embedded default.

Binary payloads (originals, results, video chunks) live in the job database. Job
documents and messages only ever carry these ids: a document is capped at 16 MB and a message
should carry references, never pixels. The content type lives in ``metadata``
because GridFS's top-level ``contentType`` field is deprecated by the GridFS spec.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from gridfs import AsyncGridFSBucket, NoFile
from gridfs.asynchronous.grid_file import AsyncGridOut
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from common.errors import NotFound, TooLarge
from common.store.blob_port import BlobInfo, BlobSource, BlobStream
from common.store.ids import parse_object_id, utcnow

BUCKET = "blobs"
CHUNK_SIZE = 255 * 1024  # GridFS default: keeps each chunk document well under 16 MB
BATCH = 500

__all__ = ["BUCKET", "BlobInfo", "BlobStream", "GridFSBlobStore"]


class GridFSBlobStore:
    def __init__(self, db: AsyncDatabase[Any], bucket: str = BUCKET) -> None:
        self._bucket = AsyncGridFSBucket(db, bucket_name=bucket, chunk_size_bytes=CHUNK_SIZE)
        self._files = db[f"{bucket}.files"]
        self._chunks = db[f"{bucket}.chunks"]

    async def ensure_indexes(self) -> None:
        # The driver creates these lazily on the first upload into an empty bucket; creating
        # them at start-up keeps the first request from paying for it (same names = no-op).
        await self._files.create_indexes(
            [IndexModel([("filename", ASCENDING), ("uploadDate", ASCENDING)])]
        )
        await self._chunks.create_indexes(
            [IndexModel([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)]
        )
        # ``delete_where(video_id=...)`` (job cancellation and clean-up) finds blobs by owner.
        await self._files.create_indexes(
            [IndexModel([("metadata.video_id", ASCENDING)], name="metadata_video_id")]
        )
        # Likewise ``delete_where(image_id=...)`` (an image job cancelled or just completed).
        await self._files.create_indexes(
            [IndexModel([("metadata.image_id", ASCENDING)], name="metadata_image_id")]
        )

    async def put(
        self,
        data: BlobSource,
        *,
        filename: str,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, Any] | None = None,
        max_bytes: int | None = None,
    ) -> str:
        """Store ``data`` (bytes, or an async iterable of byte chunks streamed as they come).

        With ``max_bytes`` a stream that grows past it is discarded and ``TooLarge`` raised,
        so an upload never has to be held in memory to be measured.
        """
        meta = {**(metadata or {}), "content_type": content_type}
        if isinstance(data, bytes | bytearray | memoryview):
            if max_bytes is not None and len(data) > max_bytes:
                raise TooLarge(f"{filename} is {len(data)} bytes; the limit is {max_bytes}")
            file_id = await self._bucket.upload_from_stream(filename, bytes(data), metadata=meta)
            return str(file_id)
        grid_in = self._bucket.open_upload_stream(filename, metadata=meta)
        written = 0
        try:
            async for piece in data:
                written += len(piece)
                if max_bytes is not None and written > max_bytes:
                    raise TooLarge(f"{filename} exceeds the limit of {max_bytes} bytes")
                await grid_in.write(piece)
        except BaseException:
            await grid_in.abort()  # removes the chunks written so far
            raise
        await grid_in.close()
        return str(grid_in._id)

    async def get(self, blob_id: str) -> bytes:
        out = await self._open(blob_id)
        try:
            return await out.read()
        finally:
            await out.close()

    async def open_stream(self, blob_id: str) -> BlobStream:
        out = await self._open(blob_id)
        return BlobStream(_info(out), out.readchunk, out.close)

    async def info(self, blob_id: str) -> BlobInfo:
        out = await self._open(blob_id)
        await out.close()
        return _info(out)

    async def exists(self, blob_id: str) -> bool:
        oid = parse_object_id(blob_id)
        return oid is not None and await self._files.find_one({"_id": oid}, {"_id": 1}) is not None

    async def delete(self, blob_id: str) -> None:
        """Remove a blob; one that is already gone (or never was) is fine: retries re-delete."""
        oid = parse_object_id(blob_id)
        if oid is not None:
            with contextlib.suppress(NoFile):
                await self._bucket.delete(oid)

    async def delete_many(self, blob_ids: Iterable[str]) -> None:
        oids = [oid for oid in map(parse_object_id, blob_ids) if oid is not None]
        if oids:
            # The files document goes first so readers stop seeing the blob before its chunks go.
            await self._files.delete_many({"_id": {"$in": oids}})
            await self._chunks.delete_many({"files_id": {"$in": oids}})

    async def delete_where(self, *, keep: str | None = None, **metadata: Any) -> int:
        """Remove every blob whose metadata matches all of ``metadata``; return how many.

        A value that is a list/tuple/set matches any of its members, so
        ``delete_where(video_id=vid, kind=["chunk", "upscaled"])`` removes a job's temporary
        blobs and ``delete_where(video_id=vid)`` everything of it. At least one key is
        required: an empty filter would empty the bucket. ``keep`` spares one blob id (the
        result a job just committed, when clearing copies left by killed attempts).
        """
        return await self.delete_matching(metadata, keep=keep)

    async def delete_matching(self, metadata: Mapping[str, Any], *,
                              keep: str | None = None) -> int:
        """``delete_where`` with the metadata as a mapping (keys that are not identifiers,
        values of any BSON type)."""
        if not metadata:
            raise ValueError("delete_where needs at least one metadata field")
        query: dict[str, Any] = {}
        kept = parse_object_id(keep) if keep is not None else None
        if kept is not None:
            query["_id"] = {"$ne": kept}
        for key, value in metadata.items():
            many = isinstance(value, list | tuple | set | frozenset)
            query[f"metadata.{key}"] = {"$in": list(value)} if many else value
        ids = [doc["_id"] async for doc in self._files.find(query, {"_id": 1})]
        if ids:
            await self._files.delete_many({"_id": {"$in": ids}})
            await self._chunks.delete_many({"files_id": {"$in": ids}})
        return len(ids)

    async def owned(self, owner_field: str, stored_before: datetime,
                    ) -> AsyncIterator[tuple[str, Any]]:
        found = self._files.find({"uploadDate": {"$lt": stored_before},
                                  f"metadata.{owner_field}": {"$exists": True}},
                                 {"_id": 1, f"metadata.{owner_field}": 1})
        async for blob in found:
            yield str(blob["_id"]), blob["metadata"][owner_field]

    async def remove_abandoned_uploads(self, grace: timedelta) -> int:
        """GridFS writes a file's chunks first and its ``files`` entry when the upload
        closes, so a killed upload leaves chunks no file refers to. They go once their file
        id (an ObjectId minted when the upload opened) is older than ``grace``, so an upload
        still in progress is never touched."""
        cutoff = ObjectId.from_datetime(utcnow() - grace)
        ids = [row["_id"] async for row in await self._chunks.aggregate([
            {"$match": {"files_id": {"$lt": cutoff}}},
            {"$group": {"_id": "$files_id"}},
        ])]
        removed = 0
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            present = {f["_id"] async for f in self._files.find({"_id": {"$in": batch}},
                                                                 {"_id": 1})}
            missing = [i for i in batch if i not in present]
            if missing:
                deleted = await self._chunks.delete_many({"files_id": {"$in": missing}})
                removed += deleted.deleted_count
        return removed

    async def _open(self, blob_id: str) -> AsyncGridOut:
        oid = parse_object_id(blob_id)
        if oid is None:
            raise NotFound(f"blob {blob_id!r} does not exist")
        try:
            return await self._bucket.open_download_stream(oid)
        except NoFile:
            raise NotFound(f"blob {blob_id} does not exist") from None


def _info(out: AsyncGridOut) -> BlobInfo:
    meta = dict(out.metadata or {})
    content_type = meta.pop("content_type", "application/octet-stream")
    return BlobInfo(
        id=str(out._id),
        length=int(out.length),
        filename=str(out.filename),
        content_type=str(content_type),
        uploaded_at=out.upload_date,
        metadata=meta,
    )
