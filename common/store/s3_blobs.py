"""The S3-compatible adapter of the blob port (MinIO, Ceph RGW, AWS S3): ``BLOB_STORE_URL``.

boto3 is synchronous; each call runs in a worker thread (``asyncio.to_thread``), which keeps
the dependency to one well-known client whose botocore any S3 server speaks to, instead of
an async wrapper pinned to one botocore release. Streams are uploaded as multipart uploads of
``PART_SIZE`` pieces (S3's parts must be at least 5 MiB), so an upload is never held whole;
downloads are read ``READ_SIZE`` bytes at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote, unquote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from bson import json_util

from common.errors import ConfigError, NotFound, ServiceUnavailable, TooLarge
from common.store.blob_port import BlobInfo, BlobSource, BlobStream
from common.store.ids import parse_object_id, utcnow
from common.store.s3_layout import (
    S3Location,
    listing_for,
    matches,
    new_blob_id,
    owner_of,
)

PART_SIZE = 8 * 1024 * 1024
READ_SIZE = 256 * 1024
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class S3BlobStore:
    def __init__(self, where: S3Location) -> None:
        self.where = where
        self._client = boto3.client(
            "s3", endpoint_url=where.endpoint_url, region_name=where.region,
            aws_access_key_id=where.access_key_id,
            aws_secret_access_key=where.secret_access_key,
            config=Config(max_pool_connections=32, retries={"mode": "standard"},
                          s3={"addressing_style": "path"}),
        )

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self._client, operation), **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise NotFound(f"{kwargs.get('Key', self.where.bucket)} does not exist") from None
            raise
        except BotoCoreError as exc:
            raise ServiceUnavailable(f"object storage unreachable: {exc}") from None

    def _key(self, blob_id: str) -> str:
        return self.where.prefix + blob_id

    async def ensure_indexes(self) -> None:
        """Check the bucket; create it when absent (a fresh MinIO), refuse bad credentials."""
        try:
            await self._call("head_bucket", Bucket=self.where.bucket)
        except NotFound:
            region = self.where.region
            extra = ({"CreateBucketConfiguration": {"LocationConstraint": region}}
                     if region and region != "us-east-1" else {})
            await self._call("create_bucket", Bucket=self.where.bucket, **extra)
        except ClientError as exc:
            raise ConfigError(f"bucket {self.where.bucket!r} refused us: {exc}") from None

    async def put(self, data: BlobSource, *, filename: str,
                  content_type: str = "application/octet-stream",
                  metadata: Mapping[str, Any] | None = None,
                  max_bytes: int | None = None) -> str:
        meta = dict(metadata or {})
        blob_id = new_blob_id(meta)
        fields = {"Bucket": self.where.bucket, "Key": self._key(blob_id),
                  "ContentType": content_type,
                  "Metadata": {"filename": quote(filename), "meta": json_util.dumps(meta)}}
        if isinstance(data, bytes | bytearray | memoryview):
            if max_bytes is not None and len(data) > max_bytes:
                raise TooLarge(f"{filename} is {len(data)} bytes; the limit is {max_bytes}")
            await self._call("put_object", Body=bytes(data), **fields)
            return blob_id
        pending, written = bytearray(), 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for piece in data:
                written += len(piece)
                if max_bytes is not None and written > max_bytes:
                    raise TooLarge(f"{filename} exceeds the limit of {max_bytes} bytes")
                pending += piece
                while len(pending) >= PART_SIZE:
                    if upload_id is None:
                        upload_id = (await self._call("create_multipart_upload",
                                                      **fields))["UploadId"]
                    parts.append(await self._part(fields, upload_id, len(parts) + 1,
                                                  bytes(pending[:PART_SIZE])))
                    del pending[:PART_SIZE]
            if upload_id is None:
                await self._call("put_object", Body=bytes(pending), **fields)
                return blob_id
            if pending:
                parts.append(await self._part(fields, upload_id, len(parts) + 1, bytes(pending)))
            await self._call("complete_multipart_upload", Bucket=fields["Bucket"],
                             Key=fields["Key"], UploadId=upload_id,
                             MultipartUpload={"Parts": parts})
        except BaseException:
            if upload_id is not None:  # the parts sent so far; the sweep catches any left
                with contextlib.suppress(Exception):
                    await self._call("abort_multipart_upload", Bucket=fields["Bucket"],
                                     Key=fields["Key"], UploadId=upload_id)
            raise
        return blob_id

    async def _part(self, fields: Mapping[str, Any], upload_id: str, number: int,
                    body: bytes) -> dict[str, Any]:
        sent = await self._call("upload_part", Bucket=fields["Bucket"], Key=fields["Key"],
                                UploadId=upload_id, PartNumber=number, Body=body)
        return {"ETag": sent["ETag"], "PartNumber": number}

    async def get(self, blob_id: str) -> bytes:
        got = await self._get_object(blob_id)
        try:
            return await asyncio.to_thread(got["Body"].read)
        finally:
            got["Body"].close()

    async def open_stream(self, blob_id: str) -> BlobStream:
        got = await self._get_object(blob_id)
        body = got["Body"]

        async def close() -> None:
            body.close()

        return BlobStream(_info(blob_id, got, "ContentLength"),
                          partial(asyncio.to_thread, body.read, READ_SIZE), close)

    async def info(self, blob_id: str) -> BlobInfo:
        if not blob_id:
            raise NotFound("blob '' does not exist")
        head = await self._call("head_object", Bucket=self.where.bucket, Key=self._key(blob_id))
        return _info(blob_id, head, "ContentLength")

    async def exists(self, blob_id: str) -> bool:
        try:
            await self.info(blob_id)
        except NotFound:
            return False
        return True

    async def delete(self, blob_id: str) -> None:
        if blob_id:
            with contextlib.suppress(NotFound):  # S3 deletes are idempotent; some servers 404
                await self._call("delete_object", Bucket=self.where.bucket,
                                 Key=self._key(blob_id))

    async def delete_many(self, blob_ids: Iterable[str]) -> None:
        keys = [{"Key": self._key(b)} for b in blob_ids if b]
        for start in range(0, len(keys), DELETE_BATCH):
            await self._call("delete_objects", Bucket=self.where.bucket,
                             Delete={"Objects": keys[start:start + DELETE_BATCH],
                                     "Quiet": True})

    async def delete_where(self, *, keep: str | None = None, **metadata: Any) -> int:
        return await self.delete_matching(metadata, keep=keep)

    async def delete_matching(self, metadata: Mapping[str, Any], *,
                              keep: str | None = None) -> int:
        if not metadata:
            raise ValueError("delete_where needs at least one metadata field")
        listing = listing_for(metadata)
        doomed = []
        for prefix in listing.prefixes:
            async for blob_id, _ in self._list(prefix):
                if blob_id == keep:
                    continue
                if listing.residual and not matches(await self._metadata(blob_id),
                                                    listing.residual):
                    continue
                doomed.append(blob_id)
        await self.delete_many(doomed)
        return len(doomed)

    async def owned(self, owner_field: str, stored_before: datetime,
                    ) -> AsyncIterator[tuple[str, Any]]:
        async for blob_id, modified in self._list(f"{owner_field}/"):
            owner = owner_of(blob_id, owner_field)
            if owner is not None and modified < stored_before:
                yield blob_id, parse_object_id(owner) or owner

    async def remove_abandoned_uploads(self, grace: timedelta) -> int:
        """Multipart uploads a killed process never completed nor aborted (their parts are
        stored, and billed, until someone aborts them), once older than ``grace``."""
        cutoff, removed = utcnow() - grace, 0
        marker: dict[str, str] = {}
        while True:
            page = await self._call("list_multipart_uploads", Bucket=self.where.bucket,
                                    Prefix=self.where.prefix, **marker)
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < cutoff:
                    with contextlib.suppress(NotFound):
                        await self._call("abort_multipart_upload", Bucket=self.where.bucket,
                                         Key=upload["Key"], UploadId=upload["UploadId"])
                        removed += 1
            if not page.get("IsTruncated"):
                return removed
            marker = {"KeyMarker": page["NextKeyMarker"],
                      "UploadIdMarker": page["NextUploadIdMarker"]}

    async def _list(self, prefix: str) -> AsyncIterator[tuple[str, datetime]]:
        token: dict[str, str] = {}
        while True:
            page = await self._call("list_objects_v2", Bucket=self.where.bucket,
                                    Prefix=self.where.prefix + prefix, **token)
            for item in page.get("Contents", []):
                yield item["Key"][len(self.where.prefix):], item["LastModified"]
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    async def _metadata(self, blob_id: str) -> dict[str, Any]:
        try:
            return (await self.info(blob_id)).metadata
        except NotFound:
            return {}

    async def _get_object(self, blob_id: str) -> dict[str, Any]:
        if not blob_id:
            raise NotFound("blob '' does not exist")
        got: dict[str, Any] = await self._call("get_object", Bucket=self.where.bucket,
                                               Key=self._key(blob_id))
        return got

    def presigned_download(self, blob_id: str, seconds: int, filename_header: str,
                           content_type: str) -> str:
        """A URL that downloads the blob for ``seconds`` with these response headers (the
        API redirects to it when BLOB_DOWNLOAD_REDIRECT_SECONDS allows)."""
        url: str = self._client.generate_presigned_url(
            "get_object", ExpiresIn=seconds,
            Params={"Bucket": self.where.bucket, "Key": self._key(blob_id),
                    "ResponseContentDisposition": filename_header,
                    "ResponseContentType": content_type})
        return url


def _info(blob_id: str, head: Mapping[str, Any], length_field: str) -> BlobInfo:
    user = head.get("Metadata", {})
    return BlobInfo(
        id=blob_id,
        length=int(head[length_field]),
        filename=unquote(user.get("filename", "")),
        content_type=str(head.get("ContentType", "application/octet-stream")),
        uploaded_at=head["LastModified"],
        metadata=dict(json_util.loads(user.get("meta", "{}"))),
    )
