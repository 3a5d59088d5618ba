"""The paged lists' bounds: any integer a client sends is a 200 or the manual's 400, never a 500.

Schemathesis found ``page`` values above 2**63 answered 500 (the database's 64-bit skip
overflowed); ``page`` is bounded by ``MAX_PAGE`` in the code and in the OpenAPI document.
"""

from __future__ import annotations

import httpx
import pytest

from ingress.listing import MAX_PAGE
from tests.ingress.conftest import SignedUp


@pytest.mark.parametrize("listing", ["/api/images", "/api/videos"])
@pytest.mark.parametrize("page", [MAX_PAGE + 1, 2**62, 2**63, 2**64 + 1, 10**30])
async def test_a_page_beyond_the_maximum_is_400(
    client: httpx.AsyncClient, user: SignedUp, listing: str, page: int
) -> None:
    response = await client.get(listing, headers=user.headers, params={"page": page})
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("Campo inválido 'page': ")


@pytest.mark.parametrize("listing", ["/api/images", "/api/videos"])
async def test_the_last_page_allowed_is_an_empty_page(
    client: httpx.AsyncClient, user: SignedUp, listing: str
) -> None:
    response = await client.get(listing, headers=user.headers,
                                params={"page": MAX_PAGE, "per_page": 100})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["page"], body["per_page"]) == (0, MAX_PAGE, 100)


async def test_the_document_states_the_bounds(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for listing in ("/api/images", "/api/videos"):
        parameters = {p["name"]: p["schema"] for p in document["paths"][listing]["get"][
            "parameters"]}
        assert (parameters["page"]["minimum"], parameters["page"]["maximum"]) == (1, MAX_PAGE)
        assert (parameters["per_page"]["minimum"], parameters["per_page"]["maximum"]) == (1, 100)
