"""The blob store port: what every stage asks of the place bytes live.

Two adapters implement it: GridFS in the job database (``common.store.blobs``, the embedded
default) and S3-compatible object storage (``common.store.s3_blobs``, chosen by
``BLOB_STORE_URL=s3://bucket/prefix``). Job documents and messages only ever carry the ids
these return; no caller knows which adapter is behind ``Store.blobs``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

BlobSource = bytes | bytearray | memoryview | AsyncIterable[bytes]


@dataclass(frozen=True)
class BlobInfo:
    id: str
    length: int
    filename: str
    content_type: str
    uploaded_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)


class BlobStream:
    """An opened blob: ``info`` for the response headers, then ``async for`` its chunks.

    Opening (``BlobStore.open_stream``) is what raises ``NotFound``, so an HTTP handler can
    answer 404 before it has started a streaming response.
    """

    def __init__(self, info: BlobInfo, read_chunk: Callable[[], Awaitable[bytes]],
                 close: Callable[[], Awaitable[None]]) -> None:
        self.info = info
        self._read_chunk = read_chunk
        self._close = close

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._read_chunk():
                yield chunk
        finally:
            await self._close()

    async def aclose(self) -> None:
        await self._close()


class BlobStore(Protocol):
    async def ensure_indexes(self) -> None:
        """Prepare the backing store at start-up (indexes, bucket check); idempotent."""

    async def put(self, data: BlobSource, *, filename: str,
                  content_type: str = "application/octet-stream",
                  metadata: Mapping[str, Any] | None = None,
                  max_bytes: int | None = None) -> str:
        """Store ``data`` (bytes, or an async iterable streamed as it comes); its id.

        A stream that grows past ``max_bytes`` is discarded and ``TooLarge`` raised."""

    async def get(self, blob_id: str) -> bytes: ...

    async def open_stream(self, blob_id: str) -> BlobStream: ...

    async def info(self, blob_id: str) -> BlobInfo: ...

    async def exists(self, blob_id: str) -> bool: ...

    async def delete(self, blob_id: str) -> None:
        """Remove a blob; one already gone (or never there) is fine: retries re-delete."""

    async def delete_many(self, blob_ids: Iterable[str]) -> None: ...

    async def delete_where(self, *, keep: str | None = None, **metadata: Any) -> int:
        """Remove every blob whose metadata matches all of ``metadata``; how many went.

        A list/tuple/set value matches any of its members; ``keep`` spares one blob id."""

    async def delete_matching(self, metadata: Mapping[str, Any], *,
                              keep: str | None = None) -> int: ...

    def owned(self, owner_field: str, stored_before: datetime,
              ) -> AsyncIterator[tuple[str, Any]]:
        """``(blob_id, owner)`` of every blob carrying ``owner_field`` in its metadata and
        stored before ``stored_before``: what the sweep checks against the job documents."""
        ...

    async def remove_abandoned_uploads(self, grace: timedelta) -> int:
        """Remove what uploads killed midway left behind (GridFS chunks without a file,
        unfinished S3 multipart uploads) once older than ``grace``; how many went."""
        ...
