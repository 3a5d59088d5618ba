"""Loading an object on behalf of its owner: the one rule every object route follows.

Another user's object, a malformed id and a missing object all answer the same 404, so ids
neither leak nor can be probed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from common.errors import NotFound
from common.store.jobs import get_owned
from ingress.auth.current import AuthUser


async def load_owned(
    collection: AsyncCollection[dict[str, Any]],
    object_id: str,
    user: AuthUser,
    not_found: str,
    projection: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The document ``object_id`` of ``collection`` if ``user`` owns it; else ``NotFound``."""
    doc = await get_owned(collection, object_id, user.id, projection)
    if doc is None:
        raise NotFound(not_found)
    return doc
