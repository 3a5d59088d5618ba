"""``load_owned``: another user's object, a malformed id and a missing one are one 404."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bson import ObjectId

from common.errors import NotFound
from common.store import Store
from ingress.auth.current import AuthUser
from ingress.auth.tokens import AccessClaims
from ingress.ownership import load_owned


def _user() -> AuthUser:
    now = datetime.now(UTC)
    claims = AccessClaims(user_id="", jti="j", session_id="s", expires_at=now)
    return AuthUser(ObjectId(), "u", "u@ejemplo.com", True, now, claims)


async def test_owner_gets_the_document_and_nobody_else_does(store: Store) -> None:
    owner, stranger = _user(), _user()
    job_id = (await store.images.insert_one({"user_id": owner.id, "status": "pending"})).inserted_id
    found = await load_owned(store.images, str(job_id), owner, "Imagen no encontrada")
    assert found["_id"] == job_id
    for candidate, user in [
        (str(job_id), stranger),
        (str(ObjectId()), owner),
        ("not-an-id", owner),
        ("0" * 23, owner),
    ]:
        with pytest.raises(NotFound) as caught:
            await load_owned(store.images, candidate, user, "Imagen no encontrada")
        assert str(caught.value) == "Imagen no encontrada"
