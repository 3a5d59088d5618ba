"""Webhook settings and the record of deliveries (additions to the manual).

``GET /api/webhooks`` shows the caller's default ``callback_url`` and the secret every
delivery to them is signed with (created on first use); ``PUT`` sets or clears the default,
``POST /api/webhooks/secret`` replaces the secret; ``GET /api/webhooks/deliveries`` lists
each job end's delivery with all its attempts, newest first. See README, "Webhooks".
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from common.webhooks import records as R
from common.webhooks.signing import new_secret
from ingress.auth.current import CurrentUser
from ingress.callbacks import checked_url
from ingress.deps import RuntimeDep
from ingress.listing import Page, PerPage, owned_page
from ingress.openapi.responses import error_answers
from ingress.uploads import CALLBACK_URL_RULE, CallbackUrl
from ingress.views import timestamp_or_none

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])

UPDATED = "Webhook actualizado exitosamente"
ROTATED = "Secreto del webhook renovado exitosamente"


class WebhookSettings(BaseModel):
    callback_url: str | None = Field(description="URL por defecto de los trabajos nuevos")
    secret: str = Field(description="Clave HMAC-SHA256 de X-Enhancer-Signature")


class WebhookAnswer(BaseModel):
    webhook: WebhookSettings


class WebhookChanged(BaseModel):
    message: str
    webhook: WebhookSettings


class WebhookUpdate(BaseModel):
    callback_url: CallbackUrl = Field(description=f"{CALLBACK_URL_RULE}. null o vacía la quita")


class Attempt(BaseModel):
    attempt: int
    at: str | None
    status_code: int | None = Field(description="Respuesta del receptor; null sin respuesta")
    error: str | None
    duration_ms: int


class Delivery(BaseModel):
    id: str = Field(description="<kind>:<job id>:<status>; también X-Enhancer-Delivery")
    event: str = Field(examples=["video.completed"])
    kind: Literal["image", "video"]
    job_id: str
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: list[Attempt]
    next_attempt_at: str | None
    created_at: str | None
    delivered_at: str | None


class DeliveryPage(BaseModel):
    total: int
    page: int
    per_page: int
    deliveries: list[Delivery]


def _settings(doc: dict[str, Any]) -> WebhookSettings:
    return WebhookSettings(callback_url=doc.get(R.USER_WEBHOOK_URL),
                           secret=doc[R.USER_WEBHOOK_SECRET])


@router.get("", response_model=WebhookAnswer, responses=error_answers(401, 503))
async def get_webhook(user: CurrentUser, runtime: RuntimeDep) -> WebhookAnswer:
    return WebhookAnswer(webhook=_settings(await R.user_webhook(runtime.store, user.id)))


@router.put("", response_model=WebhookChanged,
            responses=error_answers(400, 401, 413, 503))
async def set_webhook(body: WebhookUpdate, user: CurrentUser,
                      runtime: RuntimeDep) -> WebhookChanged:
    url = await checked_url(runtime, body.callback_url) if body.callback_url else None
    await runtime.store.users.update_one({"_id": user.id}, {"$set": {R.USER_WEBHOOK_URL: url}})
    doc = await R.user_webhook(runtime.store, user.id)
    return WebhookChanged(message=UPDATED, webhook=_settings(doc))


@router.post("/secret", response_model=WebhookChanged, responses=error_answers(401, 503))
async def rotate_secret(user: CurrentUser, runtime: RuntimeDep) -> WebhookChanged:
    await runtime.store.users.update_one({"_id": user.id},
                                         {"$set": {R.USER_WEBHOOK_SECRET: new_secret()}})
    doc = await R.user_webhook(runtime.store, user.id)
    return WebhookChanged(message=ROTATED, webhook=_settings(doc))


@router.get("/deliveries", response_model=DeliveryPage,
            responses=error_answers(400, 401, 503))
async def list_deliveries(
    user: CurrentUser,
    runtime: RuntimeDep,
    page: Page = 1,
    per_page: PerPage = 10,
    status: R.DeliveryStatus | None = None,
) -> DeliveryPage:
    # The records use the jobs' field names (user_id, status, created_at): one paging rule.
    total, docs = await owned_page(runtime.store.webhook_deliveries, user, status, page,
                                   per_page)
    return DeliveryPage(total=total, page=page, per_page=per_page,
                        deliveries=[Delivery(**R.public_delivery(d, timestamp_or_none))
                                    for d in docs])
