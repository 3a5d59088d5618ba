"""``GET /api/models``: the manual's model list, public (no token needed to choose a model).

The catalogue (``common.models``) is plain data, so the API process serves it without torch.
Each entry's ``default_scale`` is what a request without ``scale`` gets (``DEFAULT_SCALE``).
After the manual's fields each entry says whether it can run now (``available``) and what its
weights are (``weights``), as the live upscale workers report them (``common.model_status``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from common.model_status import availability
from common.models import public_listing
from ingress.deps import RuntimeDep

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models")
async def list_models(runtime: RuntimeDep) -> dict[str, Any]:
    current = await availability(runtime.store)
    models = [{**entry, **current.public(entry["id"])}
              for entry in public_listing(runtime.settings.default_scale)]
    return {"total": len(models), "models": models}
