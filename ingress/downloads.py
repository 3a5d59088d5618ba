"""Handing stored blobs back to clients: streamed downloads and the manual's base64 fields.

Shared by the image and video routes, which differ only in names and 404 messages.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import unicodedata
from typing import Any
from urllib.parse import quote

from fastapi.responses import RedirectResponse, Response, StreamingResponse

from common.errors import NotFound
from common.runtime import Runtime

log = logging.getLogger(__name__)


# Bytes a user uploaded are served back as exactly the declared type, as a file to save:
# never sniffed into HTML, never rendered with scripts, even if a browser opens it inline.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact UTF-8 one (RFC 6266 /
    RFC 5987 ``filename*``). Uploads are stored without control characters; any that reach
    here anyway (an older document) are dropped, so no name can break the header."""
    name = "".join(c for c in filename if unicodedata.category(c) != "Cc") or "descarga"
    fallback = "".join(c if c.isascii() and c not in '"\\?' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def stream_blob(
    runtime: Runtime,
    blob_id: str,
    filename: str,
    content_type: str | None,
    not_found: str,
) -> Response:
    """The blob as a download; ``content_type`` None uses the type stored with the blob.

    With object storage and BLOB_DOWNLOAD_REDIRECT_SECONDS > 0 the answer is a 307 to a
    presigned URL carrying the same type and name, so the bytes skip the API."""
    seconds = runtime.settings.blob_download_redirect_seconds
    presign = getattr(runtime.store.blobs, "presigned_download", None)
    if seconds and presign is not None:
        try:
            info = await runtime.store.blobs.info(blob_id)
        except NotFound:
            raise NotFound(not_found) from None
        url = presign(blob_id, seconds, content_disposition(filename),
                      content_type or info.content_type)
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    # Opening is what raises NotFound, so a vanished blob is a 404 before streaming starts.
    try:
        blob = await runtime.store.blobs.open_stream(blob_id)
    except NotFound:
        raise NotFound(not_found) from None
    headers = {
        "Content-Disposition": content_disposition(filename),
        "Content-Length": str(blob.info.length),
        **DOWNLOAD_HEADERS,
    }
    return StreamingResponse(
        blob.__aiter__(),
        media_type=content_type or blob.info.content_type,
        headers=headers,
    )


async def blob_base64(runtime: Runtime, blob_id: str | None) -> str | None:
    """The blob's bytes in base64 (encoded off the event loop); None when absent or gone."""
    if not blob_id:
        return None
    try:
        raw = await runtime.store.blobs.get(blob_id)
    except NotFound:
        # A job deleted while it is read, or a blob lost by an operator: show null, not 500.
        log.warning("blob %s is missing", blob_id)
        return None
    return await asyncio.to_thread(lambda: base64.b64encode(raw).decode("ascii"))


async def large_json(content: Any, status_code: int = 200) -> Response:
    """A JSON response serialised in a worker thread: bodies carrying base64 payloads run to
    tens of megabytes, and dumping them on the event loop would stall every other request."""

    def render() -> bytes:
        # The same rendering as JSONResponse.
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8")

    body = await asyncio.to_thread(render)
    return Response(body, status_code=status_code, media_type="application/json")
