"""Where blobs go in S3-compatible object storage, and the index that finds them.

``BLOB_STORE_URL=s3://bucket/prefix`` chooses the S3 adapter. State stays in the database,
bytes go to the bucket: each blob has a small index document (the shape of a GridFS ``files``
entry: ``_id``, ``filename``, ``length``, ``uploadDate``, ``metadata``) in ``INDEX``, and its
bytes are the object ``<prefix><id>``. So blob ids stay ObjectIds (the message contracts'
``BlobRef``), and "every blob of this job" is one indexed query, exactly as on GridFS, instead
of a bucket listing (object storage cannot query metadata). Only the plain S3 API that MinIO,
Ceph RGW and AWS share is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from common.errors import ConfigError

INDEX = "blob_objects"
# Set while the bytes are on their way; an entry still pending past the sweep's grace is an
# upload whose process was killed (its object, if any, goes with it).
PENDING = "pending"


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ending in "/"
    endpoint_url: str | None = None  # None: AWS itself
    region: str | None = None
    access_key_id: str | None = None  # None: boto's own chain (env, IRSA, instance profile)
    secret_access_key: str | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigError(f"BLOB_STORE_URL must look like s3://bucket/prefix, not {url!r}")
        prefix = parts.path.strip("/")
        return cls(bucket=parts.netloc, prefix=f"{prefix}/" if prefix else "", **options)


def metadata_query(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The index query for blobs whose metadata matches all of ``metadata`` (a list, tuple
    or set value matches any of its members), as ``GridFSBlobStore.delete_matching`` reads
    its ``files`` collection."""
    if not metadata:
        raise ValueError("delete_where needs at least one metadata field")
    query: dict[str, Any] = {}
    for key, value in metadata.items():
        many = isinstance(value, list | tuple | set | frozenset)
        query[f"metadata.{key}"] = {"$in": list(value)} if many else value
    return query
