"""The web app: ``GET /`` and its static files (``ingress/web/``), with no CDN and no build.

Assets are read once and served from memory under ``/web/<version>/``, where the version is
a hash of every file: a deployment changes the URLs, so the files can be cached for a year
as immutable while ``/`` itself is always revalidated (ETag). Relative ``import``s inside the
JS modules resolve under the same versioned prefix. Every response carries a strict
Content-Security-Policy (no inline script or style, nothing from another origin) and
``nosniff``, and is compressed when the client accepts gzip.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request, Response

WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
INDEX = "index.html"
# The index names its assets as "{{assets}}/css/app.css" and so on.
ASSETS_MARK = "{{assets}}"

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
}
_COMPRESSIBLE = (".html", ".js", ".css", ".svg", ".webmanifest")

# blob: carries the images and videos the page fetched with its token (downloads need the
# Authorization header, which <img src> cannot send). The DOM is built without HTML strings,
# so Trusted Types can refuse every string-to-HTML sink.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


@dataclass(frozen=True)
class Bundle:
    version: str
    index: Asset
    assets: dict[str, Asset]


def _asset(body: bytes, suffix: str) -> Asset:
    packed = gzip.compress(body, 9, mtime=0) if suffix in _COMPRESSIBLE else None
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body, packed if packed and len(packed) < len(body) else None,
                 MEDIA_TYPES[suffix], etag)


def load_bundle(root: Path = WEB_ROOT) -> Bundle:
    """Every servable file under ``root`` and the index pointing at their version."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in MEDIA_TYPES)
    digest = hashlib.sha256()
    contents: dict[str, bytes] = {}
    for path in files:
        name = path.relative_to(root).as_posix()
        contents[name] = path.read_bytes()
        digest.update(name.encode() + b"\0" + contents[name] + b"\0")
    version = digest.hexdigest()[:16]
    page = contents.pop(INDEX).decode().replace(ASSETS_MARK, f"/web/{version}")
    return Bundle(
        version=version,
        index=_asset(page.encode(), ".html"),
        assets={name: _asset(body, Path(name).suffix) for name, body in contents.items()},
    )


@lru_cache(maxsize=1)
def bundle() -> Bundle:
    return load_bundle()


def _serve(request: Request, asset: Asset, cache: str) -> Response:
    body, etag = asset.body, asset.etag
    headers = {**SECURITY_HEADERS, "Cache-Control": cache, "Vary": "Accept-Encoding"}
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        # Each representation has its own validator (RFC 9110 8.8.3).
        body, etag, headers["Content-Encoding"] = asset.gzipped, etag[:-1] + '-gz"', "gzip"
    headers["ETag"] = etag
    if etag in request.headers.get("if-none-match", ""):
        headers.pop("Content-Encoding", None)
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=asset.media_type, headers=headers)


def _not_found() -> Response:
    return Response(b"Not Found", status_code=404, media_type="text/plain; charset=utf-8",
                    headers=SECURITY_HEADERS)


router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
async def index(request: Request) -> Response:
    return _serve(request, bundle().index, REVALIDATE)


@router.api_route("/web/{version}/{name:path}", methods=["GET", "HEAD"])
async def asset(request: Request, version: str, name: str) -> Response:
    current = bundle()
    found = current.assets.get(name)
    # A page from an older deployment asks for the old version: the files it wants are gone.
    if version != current.version or found is None:
        return _not_found()
    return _serve(request, found, IMMUTABLE)
