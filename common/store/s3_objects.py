"""Objects in one S3-compatible bucket: the plain S3 calls the blob adapter needs.

boto3 is synchronous; each call runs in a worker thread (``asyncio.to_thread``), which keeps
the dependency to one well-known client that every S3 server speaks to, instead of an async
wrapper pinned to one botocore release. Streams go up as multipart uploads of ``PART_SIZE``
pieces (S3's parts must be at least 5 MiB, the last excepted), so an upload is never held
whole; downloads are read ``READ_SIZE`` bytes at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from common.errors import ConfigError, NotFound, ServiceUnavailable, TooLarge
from common.store.s3_layout import S3Location

PART_SIZE = 8 * 1024 * 1024
READ_SIZE = 256 * 1024
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchUpload"}
_CREATED = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}


class Bucket:
    def __init__(self, where: S3Location) -> None:
        self.where = where
        self.client = boto3.client(
            "s3", endpoint_url=where.endpoint_url, region_name=where.region,
            aws_access_key_id=where.access_key_id,
            aws_secret_access_key=where.secret_access_key,
            config=Config(max_pool_connections=32, retries={"mode": "standard"},
                          s3={"addressing_style": "path"}),
        )

    def key(self, blob_id: str) -> str:
        return self.where.prefix + blob_id

    async def call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self.client, operation),
                                           Bucket=self.where.bucket, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise NotFound(f"{kwargs.get('Key', self.where.bucket)} does not exist") from None
            raise ServiceUnavailable(f"object storage refused {operation}: {exc}") from None
        except BotoCoreError as exc:
            raise ServiceUnavailable(f"object storage unreachable: {exc}") from None

    async def ensure(self) -> None:
        """Check the bucket; create it when absent (a fresh MinIO). Refused credentials are
        a ConfigError (retrying cannot help); an unreachable server is ServiceUnavailable."""
        try:
            await asyncio.to_thread(self.client.head_bucket, Bucket=self.where.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _MISSING:
                raise ConfigError(f"bucket {self.where.bucket!r} refused us: {exc}") from None
        except BotoCoreError as exc:
            raise ServiceUnavailable(f"object storage unreachable: {exc}") from None
        else:
            return
        await self._create()

    async def _create(self) -> None:
        region = self.where.region
        extra = ({"CreateBucketConfiguration": {"LocationConstraint": region}}
                 if region and region != "us-east-1" else {})
        try:
            await asyncio.to_thread(self.client.create_bucket, Bucket=self.where.bucket,
                                    **extra)
        except ClientError as race:  # several pods starting at once: one of them creates it
            if race.response.get("Error", {}).get("Code") not in _CREATED:
                raise ConfigError(f"cannot create bucket {self.where.bucket!r}: "
                                  f"{race}") from None
        except BotoCoreError as exc:
            raise ServiceUnavailable(f"object storage unreachable: {exc}") from None

    async def upload(self, key: str, data: bytes | AsyncIterable[bytes], *, filename: str,
                     max_bytes: int | None, fields: Mapping[str, Any]) -> int:
        """Store ``data`` at ``key``; how many bytes. A failure leaves no object and no
        unfinished multipart upload behind (what a killed process leaves, the sweep finds)."""
        if isinstance(data, bytes):
            await self.call("put_object", Key=key, Body=data, **fields)
            return len(data)
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
                        upload_id = (await self.call("create_multipart_upload", Key=key,
                                                     **fields))["UploadId"]
                    parts.append(await self._part(key, upload_id, len(parts) + 1,
                                                  bytes(pending[:PART_SIZE])))
                    del pending[:PART_SIZE]
            if upload_id is None:
                await self.call("put_object", Key=key, Body=bytes(pending), **fields)
                return written
            if pending:
                parts.append(await self._part(key, upload_id, len(parts) + 1, bytes(pending)))
            await self.call("complete_multipart_upload", Key=key, UploadId=upload_id,
                            MultipartUpload={"Parts": parts})
        except BaseException:
            if upload_id is not None:
                with contextlib.suppress(Exception):
                    await self.call("abort_multipart_upload", Key=key, UploadId=upload_id)
            raise
        return written

    async def _part(self, key: str, upload_id: str, number: int, body: bytes,
                    ) -> dict[str, Any]:
        sent = await self.call("upload_part", Key=key, UploadId=upload_id, PartNumber=number,
                               Body=body)
        return {"ETag": sent["ETag"], "PartNumber": number}

    async def open(self, key: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
        """``(read, close)`` of the object's body: ``await read()`` gives the next piece."""
        body = (await self.call("get_object", Key=key))["Body"]

        async def read() -> bytes:
            piece: bytes = await asyncio.to_thread(body.read, READ_SIZE)
            return piece

        async def close() -> None:
            body.close()

        return read, close

    async def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": k} for k in keys[start:start + DELETE_BATCH]]
            await self.call("delete_objects", Delete={"Objects": batch, "Quiet": True})

    async def abort_uploads(self, key: str) -> None:
        """Abort any multipart upload still open on ``key`` (its process was killed)."""
        page = await self.call("list_multipart_uploads", Prefix=key)
        for upload in page.get("Uploads", []):
            if upload["Key"] == key:
                with contextlib.suppress(NotFound):
                    await self.call("abort_multipart_upload", Key=key,
                                    UploadId=upload["UploadId"])

    def presigned_get(self, key: str, seconds: int, disposition: str, content_type: str) -> str:
        url: str = self.client.generate_presigned_url(
            "get_object", ExpiresIn=seconds,
            Params={"Bucket": self.where.bucket, "Key": key,
                    "ResponseContentDisposition": disposition,
                    "ResponseContentType": content_type})
        return url
