"""The job documents both sides of the bus share: statuses, field names, blob kinds, helpers.

The API creates image and video documents and answers polling from them; the stages move
them along. Everything the two sides must agree on lives here, once:

- ``status``: ``ImageStatus`` / ``VideoStatus`` (the manual's values) and which are active;
- ``fields``: the document field names more than one module reads or writes;
- ``blobs``: blob kinds and the metadata every job blob carries (its owner's ObjectId);
- ``cleanup``: removing what a job left behind (blobs, the stages' chunk records), used by
  the API's DELETE and by the stages, so the API never touches the ``chunks`` collection.

Ids have one form end to end: an ObjectId in every stored document (job documents, chunk
records, blob metadata); text only in messages and URLs, parsed once where they arrive.
Blob references (``original_blob`` ...) are GridFS ids as text, as ``BlobStore`` takes them.
"""
