"""Data layer: MongoDB/SecantusDB via PyMongo's async API, blobs in GridFS."""

from common.store.blobs import BlobInfo, BlobStore, BlobStream
from common.store.client import Store, redact_url
from common.store.ids import parse_object_id, utcnow
from common.store.indexes import INDEXES, email_key
from common.store.jobs import (
    add_progress_once,
    add_progress_once_returning,
    get_owned,
    transition,
)
from common.store.secantus import SecantusServer

__all__ = [
    "INDEXES",
    "BlobInfo",
    "BlobStore",
    "BlobStream",
    "SecantusServer",
    "Store",
    "add_progress_once",
    "add_progress_once_returning",
    "email_key",
    "get_owned",
    "parse_object_id",
    "redact_url",
    "transition",
    "utcnow",
]
