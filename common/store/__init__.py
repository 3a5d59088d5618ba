"""Data layer: MongoDB/SecantusDB via PyMongo's async API, blobs in GridFS or S3."""

from common.store.blob_port import BlobInfo, BlobStore, BlobStream
from common.store.blobs import GridFSBlobStore
from common.store.client import Store, redact_url
from common.store.ids import parse_object_id, utcnow
from common.store.indexes import INDEXES, email_key
from common.store.jobs import (
    add_progress_once,
    add_progress_once_returning,
    get_owned,
    transition,
)
from common.store.s3_layout import S3Location
from common.store.secantus import SecantusServer

__all__ = [
    "INDEXES",
    "BlobInfo",
    "BlobStore",
    "BlobStream",
    "GridFSBlobStore",
    "S3Location",
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
