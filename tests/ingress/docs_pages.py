"""The API documentation pages and every asset they reference, as a browser would load them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx

PAGES = ("/docs", "/redoc")
# src=, href= and the spec URLs the two pages hand to Swagger UI / ReDoc.
_REFERENCE = re.compile(r"""(?:src|href|spec-url)=["']([^"']+)["']|url:\s*'([^']+)'""")


def references(html: str) -> list[str]:
    return [a or b for a, b in _REFERENCE.findall(html)]


async def check_pages(get: Callable[[str], Awaitable[httpx.Response]],
                      ) -> dict[str, httpx.Response]:
    """GET each page and each thing it references; every one must come from this service (a
    relative URL) and answer 200 with content. Returns what was loaded, by URL."""
    loaded: dict[str, httpx.Response] = {}
    for page in PAGES:
        response = await get(page)
        assert response.status_code == 200, (page, response.status_code)
        html = response.text
        assert "://" not in html, f"{page} names an outside address: no CDN, no fonts"
        found = references(html)
        assert found, page
        for url in found:
            assert url.startswith("/"), (page, url)
            asset = await get(url)
            assert asset.status_code == 200, (url, asset.status_code)
            assert len(asset.content) > 100, url
            loaded[url] = asset
        loaded[page] = response
    return loaded
