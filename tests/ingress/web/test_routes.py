"""``GET /`` and the web app's files: types, caching, compression and the security headers.

The router alone is enough here (the page needs no database); the browser suite in
``tests/web`` runs the same files in Chromium against the real service.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from ingress.routes import web

INDEX_ASSETS = re.compile(r'(?:href|src)="(/web/[^"]+)"')


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(web.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as http:
        yield http


def _assert_secured(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == web.CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_index_is_revalidated_and_secured(client: httpx.AsyncClient) -> None:
    page = await client.get("/", headers={"Accept-Encoding": "identity"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    _assert_secured(page)
    assert "{{assets}}" not in page.text
    again = await client.get("/", headers={"If-None-Match": page.headers["etag"],
                                           "Accept-Encoding": "identity"})
    assert again.status_code == 304
    assert again.content == b""


def test_policy_allows_nothing_inline_nor_from_elsewhere() -> None:
    directives = dict(part.split(" ", 1) for part in web.CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in web.CONTENT_SECURITY_POLICY
    assert "http" not in web.CONTENT_SECURITY_POLICY


async def test_every_asset_the_index_names_is_served_with_its_type(
        client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    names = set(INDEX_ASSETS.findall(page.text))
    assert {n.rsplit("/", 1)[-1] for n in names} >= {"app.css", "app.js", "icon.svg"}
    for name in names:
        answer = await client.get(name, headers={"Accept-Encoding": "identity"})
        assert answer.status_code == 200, name
        assert answer.headers["content-type"] == web.MEDIA_TYPES["." + name.rsplit(".", 1)[1]]
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        _assert_secured(answer)


async def test_modules_import_only_files_that_exist(client: httpx.AsyncClient) -> None:
    bundle = web.load_bundle()
    scripts = {name: asset for name, asset in bundle.assets.items() if name.endswith(".js")}
    assert "js/app.js" in scripts
    for name, asset in scripts.items():
        for target in re.findall(r"from '(\.{1,2}/[^']+)'", asset.body.decode()):
            resolved = httpx.URL(f"http://x/web/{bundle.version}/{name}").join(target)
            answer = await client.get(resolved.path)
            assert answer.status_code == 200, f"{name} imports {target}"
            assert answer.headers["content-type"].startswith("text/javascript")


async def test_text_is_compressed_when_the_client_accepts_gzip(
        client: httpx.AsyncClient) -> None:
    bundle = web.load_bundle()
    path = f"/web/{bundle.version}/js/i18n.js"
    plain = await client.get(path, headers={"Accept-Encoding": "identity"})
    packed = await client.get(path, headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.headers["etag"] != plain.headers["etag"]
    assert packed.content == plain.content  # httpx decodes it: the same file
    assert len(gzip.compress(plain.content)) < len(plain.content)


async def test_an_unknown_version_or_file_is_404(client: httpx.AsyncClient) -> None:
    version = web.load_bundle().version
    for path in ("/web/0123456789abcdef/js/app.js", f"/web/{version}/js/nope.js",
                 f"/web/{version}/../routes/web.py", f"/web/{version}/index.html"):
        answer = await client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_version_follows_the_contents(tmp_path: Path) -> None:
    root = tmp_path
    (root / "index.html").write_text('<script type="module" src="{{assets}}/a.js"></script>')
    (root / "a.js").write_text("export const a = 1;\n")
    (root / "notes.txt").write_text("not served")
    first = web.load_bundle(root)
    expected = f'<script type="module" src="/web/{first.version}/a.js"></script>'
    assert first.index.body.decode() == expected
    assert set(first.assets) == {"a.js"}
    (root / "a.js").write_text("export const a = 2;\n")
    assert web.load_bundle(root).version != first.version
