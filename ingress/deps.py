"""``Annotated`` dependency aliases, so routes declare what they need in one word."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from common.runtime import Runtime
from common.settings import Settings
from common.store.client import Store
from ingress.auth.tokens import TokenIssuer


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_store(request: Request) -> Store:
    return get_runtime(request).store


def get_settings(request: Request) -> Settings:
    return get_runtime(request).settings


def get_token_issuer(request: Request) -> TokenIssuer:
    issuer: TokenIssuer = request.app.state.token_issuer
    return issuer


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TokenIssuerDep = Annotated[TokenIssuer, Depends(get_token_issuer)]
