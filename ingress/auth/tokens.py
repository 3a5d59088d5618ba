"""Token formats: HS256 access JWTs (algorithm pinned) and opaque refresh tokens.

Access tokens carry ``typ="access"`` and the session (refresh-token family) id ``sid``, so a
session revoked on logout or on refresh-token theft also stops its access tokens. Refresh
tokens are random strings; only their SHA-256 is stored, so a database leak yields no token.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from common.errors import AuthError

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
INVALID_TOKEN = "Token inválido o expirado"
_REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti", "iss", "aud", "typ", "sid"]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    jti: str
    session_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenIssuer:
    secret: str
    issuer: str
    audience: str
    access_lifetime: timedelta

    def issue_access(self, user_id: str, session_id: str, now: datetime) -> str:
        claims = {
            "sub": user_id,
            "iat": now,
            "exp": now + self.access_lifetime,
            "jti": uuid.uuid4().hex,
            "iss": self.issuer,
            "aud": self.audience,
            "typ": ACCESS_TYPE,
            "sid": session_id,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify_access(self, token: str) -> AccessClaims:
        """The claims of a valid access token; anything else is ``AuthError`` (one message,
        so a caller learns nothing about why a token was refused)."""
        try:
            # ``algorithms`` pins HS256: "none", RS256 with the key as a public key, etc. fail.
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError:
            raise AuthError(INVALID_TOKEN) from None
        if claims.get("typ") != ACCESS_TYPE or not all(
            isinstance(claims.get(k), str) for k in ("sub", "jti", "sid")
        ):
            raise AuthError(INVALID_TOKEN)
        expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
        return AccessClaims(claims["sub"], claims["jti"], claims["sid"], expires_at)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(48)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
