"""``GET /api/models``: the manual's model list, public (no token needed to choose a model).

The registry is plain data (it never imports torch), so the API process can serve it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from pipeline.upscale.engine.registry import public_listing

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models")
async def list_models() -> dict[str, Any]:
    models = public_listing()
    return {"total": len(models), "models": models}
