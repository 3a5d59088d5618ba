"""The manual's "Autenticación" endpoints: register, login, refresh, logout, me."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from common.errors import AuthError
from common.store.indexes import email_key
from ingress.auth import users
from ingress.auth.current import CurrentUser, LoginThrottleDep, SessionsDep
from ingress.auth.tokens import INVALID_TOKEN
from ingress.deps import StoreDep
from ingress.openapi import schemas as S
from ingress.openapi.responses import answers
from ingress.views import manual_timestamp

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/auth", tags=["auth"])

Password = Annotated[str, Field(min_length=8, max_length=128)]


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


# EmailStr (email-validator) refuses special-use domains (``.local``, ``.test``...); the
# document says so, since the "email" format alone allows them.
_ORDINARY_DOMAIN = (r"^(?!.*@(.*\.)?(" + "|".join(map(_any_case, SPECIAL_USE_DOMAIN_NAMES))
                    + r")\.?$)")
Email = Annotated[EmailStr, Field(json_schema_extra={"pattern": _ORDINARY_DOMAIN})]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=False)
    username: Annotated[str, Field(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")]
    email: Email
    password: Password


class LoginRequest(BaseModel):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class RefreshRequest(BaseModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=None,
             responses=answers({201: S.Registered}, 400, 409, 413, 503))
async def register(body: RegisterRequest, store: StoreDep) -> dict[str, Any]:
    doc = await users.register(store, body.username, str(body.email), body.password)
    log.info("registered user %s", doc["_id"])
    return {"message": "Usuario registrado exitosamente", "user": users.public_user(doc)}


@router.post("/login", response_model=None,
             responses=answers({200: S.LoggedIn}, 400, 401, 413, 429, 503))
async def login(
    body: LoginRequest,
    request: Request,
    store: StoreDep,
    sessions: SessionsDep,
    throttle: LoginThrottleDep,
) -> dict[str, Any]:
    email = email_key(body.email)
    ip = request.client.host if request.client else None
    # A failed attempt keeps the place it reserved: that is what counts it.
    await throttle.reserve(email, ip)
    user = await users.authenticate(store, body.email, body.password)
    await throttle.succeeded(email, ip)
    tokens = await sessions.start(str(user["_id"]))
    return {"message": "Login exitoso", "tokens": tokens.as_response()}


@router.post("/refresh", response_model=None,
             responses=answers({200: S.LoggedIn}, 400, 401, 413, 503))
async def refresh(body: RefreshRequest, sessions: SessionsDep) -> dict[str, Any]:
    tokens = await sessions.rotate(body.refresh_token)
    return {"message": "Tokens renovados exitosamente", "tokens": tokens.as_response()}


@router.post("/logout", response_model=None,
             responses=answers({200: S.Message}, 400, 401, 413, 503))
async def logout(body: RefreshRequest, user: CurrentUser, sessions: SessionsDep) -> dict[str, str]:
    # The refresh token is checked first: a refused logout (someone else's or a made-up
    # token) must not end the caller's own access token either.
    family = await sessions.family_of(body.refresh_token, str(user.id))
    if family is None:
        raise AuthError(INVALID_TOKEN)
    await sessions.revoke_access(user.claims)
    await sessions.revoke(family)
    return {"message": "Sesión cerrada exitosamente"}


@router.get("/me", response_model=None, responses=answers({200: S.Me}, 401, 503))
async def me(user: CurrentUser) -> dict[str, Any]:
    return {
        "user": {
            "id": str(user.id),
            "username": user.username,
            "email": user.email,
            "is_active": user.is_active,
            "created_at": manual_timestamp(user.created_at),
        }
    }
