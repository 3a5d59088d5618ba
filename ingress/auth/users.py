"""User accounts: registration, credential checks and the public profile shape."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from common.errors import AuthError, Conflict
from common.store.client import Store
from common.store.ids import parse_object_id, utcnow
from common.store.indexes import email_key
from ingress.auth.passwords import hash_password, verify_password
from ingress.views import manual_timestamp

BAD_CREDENTIALS = "Credenciales inválidas"
INACTIVE = "Usuario inactivo"
_DUPLICATE = {
    "username": "El nombre de usuario ya está registrado",
    "email_lower": "El email ya está registrado",
}


def public_user(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(doc["_id"]),
        "username": doc["username"],
        "email": doc["email"],
        "is_active": bool(doc["is_active"]),
        "created_at": manual_timestamp(doc["created_at"]),
    }


async def register(store: Store, username: str, email: str, password: str) -> dict[str, Any]:
    """Insert a new active user; the unique indexes (not a prior read) reject duplicates, so
    two concurrent registrations of one name or email cannot both succeed."""
    doc: dict[str, Any] = {
        "username": username,
        "email": email,
        "email_lower": email_key(email),
        "password_hash": await hash_password(password),
        "is_active": True,
        "created_at": utcnow(),
    }
    try:
        doc["_id"] = (await store.users.insert_one(doc)).inserted_id
    except DuplicateKeyError as exc:
        field = next(iter((exc.details or {}).get("keyPattern") or {"username": 1}))
        raise Conflict(_DUPLICATE.get(field, _DUPLICATE["username"])) from None
    return doc


async def authenticate(store: Store, email: str, password: str) -> dict[str, Any]:
    """The user with these credentials. Unknown email and wrong password give one message
    and cost the same time; only a correct password reveals that an account is inactive."""
    doc = await store.users.find_one({"email_lower": email_key(email)})
    matches, new_hash = await verify_password(password, doc["password_hash"] if doc else None)
    if doc is None or not matches:
        raise AuthError(BAD_CREDENTIALS)
    if not doc.get("is_active", False):
        raise AuthError(INACTIVE)
    if new_hash is not None:
        await store.users.update_one({"_id": doc["_id"]}, {"$set": {"password_hash": new_hash}})
    return doc


async def active_user(store: Store, user_id: str | ObjectId) -> dict[str, Any] | None:
    oid = parse_object_id(user_id)
    if oid is None:
        return None
    return await store.users.find_one(
        {"_id": oid, "is_active": True}, {"password_hash": 0, "email_lower": 0}
    )
