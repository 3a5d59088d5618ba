"""A submission's ``callback_url``: the request's (checked against SSRF) or the user's default.

Checked before anything is stored, so a refused URL (400) leaves nothing behind. The user's
default (``PUT /api/webhooks``) was checked when it was set; the webhooks stage checks every
address again when it connects (``pipeline/webhooks/http.py``).
"""

from __future__ import annotations

from bson import ObjectId

from common.runtime import Runtime
from common.webhooks.addresses import AddressPolicy, check_callback_url
from common.webhooks.records import USER_WEBHOOK_URL


async def checked_url(runtime: Runtime, url: str) -> str:
    return await check_callback_url(url, AddressPolicy.from_settings(runtime.settings))


async def callback_for(runtime: Runtime, user_id: ObjectId, requested: str | None) -> str | None:
    """Where the job's webhook goes: ``requested`` once checked, else (None or "") the user's
    default."""
    if requested:
        return await checked_url(runtime, requested)
    user = await runtime.store.users.find_one({"_id": user_id}, {USER_WEBHOOK_URL: 1})
    return (user or {}).get(USER_WEBHOOK_URL) or None
