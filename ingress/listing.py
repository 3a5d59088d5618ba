"""The manual's paged lists (``GET /api/images``, ``GET /api/videos``): one query shape.

Both lists take ``page`` (1 to ``MAX_PAGE``) and ``per_page`` (1–100, default 10), show only
the caller's objects, newest first (``_id`` breaks ties between equal timestamps, so pages
never overlap), and answer ``{"total", "page", "per_page", "<items>"}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Query
from pymongo.asynchronous.collection import AsyncCollection

from common.jobs import fields as F
from ingress.auth.current import AuthUser

# Beyond any real list (a hundred million objects at 100 a page), and far inside the database's
# 64-bit skip: a larger page is a 400, never an overflow.
MAX_PAGE = 1_000_000
Page = Annotated[int, Query(ge=1, le=MAX_PAGE)]
PerPage = Annotated[int, Query(ge=1, le=100)]
NEWEST_FIRST = [(F.CREATED_AT, -1), (F.ID, -1)]


async def owned_page(
    collection: AsyncCollection[dict[str, Any]],
    user: AuthUser,
    status: str | None,
    page: int,
    per_page: int,
    projection: Mapping[str, Any] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """(how many of ``user``'s documents match, the documents of this page)."""
    query: dict[str, Any] = {F.USER_ID: user.id}
    if status is not None:
        query[F.STATUS] = status
    total, docs = await asyncio.gather(
        collection.count_documents(query),
        collection.find(query, projection)
        .sort(NEWEST_FIRST)
        .skip((page - 1) * per_page)
        .limit(per_page)
        .to_list(),
    )
    return total, docs
