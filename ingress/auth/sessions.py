"""Sessions: rotated refresh tokens grouped in families, and token revocation.

A login starts a family (``family_id`` doubles as the session id ``sid`` in access tokens).
Each refresh atomically marks the presented token rotated and issues its successor in the
same family. Presenting a rotated token again means a copy of it is in someone else's hands:
the whole family is revoked, successor included, and so are its access tokens.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from common.errors import AuthError
from common.store.client import Store
from common.store.ids import utcnow
from ingress.auth.tokens import (
    INVALID_TOKEN,
    AccessClaims,
    TokenIssuer,
    hash_refresh_token,
    new_refresh_token,
)
from ingress.auth.users import active_user

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str

    def as_response(self) -> dict[str, str]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
        }


@dataclass(frozen=True, slots=True)
class Sessions:
    store: Store
    issuer: TokenIssuer
    refresh_lifetime: timedelta

    async def start(self, user_id: str) -> TokenPair:
        return await self._issue(user_id, uuid.uuid4().hex, utcnow())

    async def rotate(self, refresh_token: str) -> TokenPair:
        """The next pair for a live refresh token of an active user; a reused one revokes its
        family."""
        now = utcnow()
        token_hash = hash_refresh_token(refresh_token)
        current = await self.store.refresh_tokens.find_one_and_update(
            {
                "token_hash": token_hash,
                "rotated_at": None,
                "revoked": False,
                "expires_at": {"$gt": now},
            },
            {"$set": {"rotated_at": now}},
        )
        if current is None:
            known = await self.store.refresh_tokens.find_one({"token_hash": token_hash})
            if known is not None and known.get("rotated_at") is not None:
                log.warning(
                    "rotated refresh token presented again: revoking session %s of user %s",
                    known["family_id"],
                    known["user_id"],
                )
                await self.revoke(known["family_id"])
            raise AuthError(INVALID_TOKEN)
        user_id = str(current["user_id"])
        if await active_user(self.store, user_id) is None:
            # Deactivated (or deleted) since login: the session ends here.
            await self.revoke(current["family_id"])
            raise AuthError(INVALID_TOKEN)
        return await self._issue(user_id, current["family_id"], now)

    async def family_of(self, refresh_token: str, user_id: str) -> str | None:
        """The session of a live refresh token that belongs to ``user_id``."""
        doc = await self.store.refresh_tokens.find_one(
            {
                "token_hash": hash_refresh_token(refresh_token),
                "user_id": user_id,
                "revoked": False,
                "expires_at": {"$gt": utcnow()},
            },
            {"family_id": 1},
        )
        return None if doc is None else str(doc["family_id"])

    async def revoke(self, family_id: str) -> None:
        """End a session: its refresh tokens stop working, and so do its access tokens."""
        await self.store.refresh_tokens.update_many(
            {"family_id": family_id}, {"$set": {"revoked": True}}
        )
        await self._deny(f"sid:{family_id}", utcnow() + self.issuer.access_lifetime)

    async def revoke_access(self, claims: AccessClaims) -> None:
        await self._deny(f"jti:{claims.jti}", claims.expires_at)

    async def is_revoked(self, claims: AccessClaims) -> bool:
        return await self.ended(claims.session_id, claims.jti)

    async def ended(self, session_id: str, jti: str) -> bool:
        """Whether the access token ``jti`` of session ``session_id`` was revoked, or its
        session was (a logout does both)."""
        keys = [f"jti:{jti}", f"sid:{session_id}"]
        return await self.store.revoked_tokens.find_one({"_id": {"$in": keys}}) is not None

    async def _deny(self, key: str, until: datetime) -> None:
        # Kept until no token it could match is still valid; the TTL index removes it then.
        await self.store.revoked_tokens.update_one(
            {"_id": key}, {"$set": {"expires_at": until}}, upsert=True
        )

    async def _issue(self, user_id: str, family_id: str, now: datetime) -> TokenPair:
        refresh = new_refresh_token()
        try:
            await self.store.refresh_tokens.insert_one(
                {
                    "token_hash": hash_refresh_token(refresh),
                    "family_id": family_id,
                    "user_id": user_id,
                    "created_at": now,
                    "expires_at": now + self.refresh_lifetime,
                    "rotated_at": None,
                    "revoked": False,
                }
            )
        except DuplicateKeyError:  # 384 random bits colliding: refuse rather than share a row
            raise AuthError(INVALID_TOKEN) from None
        return TokenPair(self.issuer.issue_access(user_id, family_id, now), refresh)
