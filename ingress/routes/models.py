"""``GET /api/models``: the manual's model list, public (no token needed to choose a model).

The catalogue (``common.models``) is plain data, so the API process serves it without torch.
Each entry's ``default_scale`` is what a request without ``scale`` gets (``DEFAULT_SCALE``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from common.models import public_listing
from ingress.deps import SettingsDep

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models")
async def list_models(settings: SettingsDep) -> dict[str, Any]:
    models = public_listing(settings.default_scale)
    return {"total": len(models), "models": models}
