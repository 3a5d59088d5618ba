"""Where blobs go in S3-compatible object storage: the location a URL names, and object keys.

``BLOB_STORE_URL=s3://bucket/prefix`` chooses the S3 adapter. Object storage cannot query
metadata, so what the stages look blobs up by is in the key itself:
``<prefix>/<owner field>/<owner id>/<kind>/<random>`` (``video_id/65f…/chunk/3a9…``), and a
job's blobs, or its temporaries of some kinds, are one listing away. Everything else of the
metadata travels as object user metadata (extended JSON). Only the plain S3 API that MinIO,
Ceph RGW and AWS share is used.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from common.errors import ConfigError

# The owners of job blobs, as ``common.jobs.blobs`` names them (the store sits below the
# jobs package, so it cannot import them; tests/common/store/test_s3_layout.py holds them
# equal). A blob with no owner goes under ``loose/``.
OWNER_FIELDS = ("video_id", "image_id")
KIND = "kind"
LOOSE = "loose"
NO_KIND = "_"


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


def scalar_values(value: Any) -> list[Any]:
    """A metadata query value as the list of values it matches."""
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


def new_blob_id(metadata: Mapping[str, Any]) -> str:
    """The id (key below the prefix) of a new blob with ``metadata``."""
    for field in OWNER_FIELDS:
        if field in metadata:
            kind = metadata.get(KIND) or NO_KIND
            return f"{field}/{metadata[field]}/{kind}/{uuid.uuid4().hex}"
    return f"{LOOSE}/{uuid.uuid4().hex}"


def owner_of(blob_id: str, field: str) -> str | None:
    """The owner id a blob's key names for ``field``, or None."""
    parts = blob_id.split("/")
    return parts[1] if len(parts) == 4 and parts[0] == field else None


@dataclass(frozen=True)
class Listing:
    """Which key prefixes hold the blobs a metadata query can match, and what of the query
    the keys cannot answer (checked against each object's stored metadata)."""

    prefixes: list[str]
    residual: dict[str, Any]


def listing_for(query: Mapping[str, Any]) -> Listing:
    owner = next((f for f in OWNER_FIELDS if f in query), None)
    if owner is None:
        return Listing([""], dict(query))
    kinds: Iterable[Any] = scalar_values(query[KIND]) if KIND in query else [None]
    prefixes = [f"{owner}/{who}/" + (f"{kind}/" if kind is not None else "")
                for who in scalar_values(query[owner]) for kind in kinds]
    residual = {k: v for k, v in query.items() if k not in (owner, KIND)}
    return Listing(prefixes, residual)


def matches(stored: Mapping[str, Any], residual: Mapping[str, Any]) -> bool:
    """Whether stored metadata matches the rest of a query (ids compared as text: keys hold
    an ObjectId owner and its text alike)."""
    return all(
        key in stored and str(stored[key]) in {str(v) for v in scalar_values(wanted)}
        for key, wanted in residual.items()
    )
