"""``CurrentUser``: the authenticated caller of a route, from ``Authorization: Bearer``.

Every check that can refuse a token answers the manual's one 401 body, so a caller cannot
tell an expired token from a revoked or forged one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from bson import ObjectId
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from common.errors import AuthError
from ingress.auth.sessions import Sessions
from ingress.auth.throttle import LoginThrottle
from ingress.auth.tokens import INVALID_TOKEN, AccessClaims
from ingress.auth.users import active_user
from ingress.deps import SettingsDep, StoreDep, TokenIssuerDep

TOKEN_REQUIRED = "Token de autenticación requerido"


@dataclass(frozen=True, slots=True)
class AuthUser:
    id: ObjectId
    username: str
    email: str
    is_active: bool
    created_at: datetime
    claims: AccessClaims


def get_sessions(settings: SettingsDep, store: StoreDep, issuer: TokenIssuerDep) -> Sessions:
    return Sessions(store, issuer, timedelta(days=settings.jwt_refresh_token_expire_days))


def get_login_throttle(settings: SettingsDep, store: StoreDep) -> LoginThrottle:
    return LoginThrottle(
        store,
        window=timedelta(seconds=settings.login_window_seconds),
        max_per_email=settings.login_max_failures,
        max_per_ip=settings.login_max_failures_per_ip,
    )


SessionsDep = Annotated[Sessions, Depends(get_sessions)]
LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


# Only declares the scheme in the OpenAPI document (Swagger's "Authorize" button): the header
# is read by ``bearer_token`` below, which answers the manual's two 401 texts.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearerAuth", bearerFormat="JWT",
                    description="El access_token de POST /api/auth/login")
DeclaredBearer = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise AuthError(TOKEN_REQUIRED)
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(INVALID_TOKEN)
    return token.strip()


async def current_user(request: Request, sessions: SessionsDep, _: DeclaredBearer) -> AuthUser:
    claims = sessions.issuer.verify_access(bearer_token(request))
    if await sessions.is_revoked(claims):
        raise AuthError(INVALID_TOKEN)
    doc: dict[str, Any] | None = await active_user(sessions.store, claims.user_id)
    if doc is None:  # deleted or deactivated since the token was issued
        raise AuthError(INVALID_TOKEN)
    return AuthUser(
        id=doc["_id"],
        username=doc["username"],
        email=doc["email"],
        is_active=doc["is_active"],
        created_at=doc["created_at"],
        claims=claims,
    )


CurrentUser = Annotated[AuthUser, Depends(current_user)]
