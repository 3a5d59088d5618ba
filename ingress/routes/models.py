"""``GET /api/models``: the manual's model list, public (no token needed to choose a model).

The catalogue (``common.models``) is plain data, so the API process serves it without torch.
Each entry's ``default_scale`` is what a request without ``scale`` gets (``DEFAULT_SCALE``).
After the manual's fields each entry says whether it can run now (``available``) and what its
weights are (``weights``), as the live upscale workers report them (``common.model_status``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from common.model_status import Availability
from common.models import public_listing
from ingress.availability import reported
from ingress.deps import RuntimeDep
from ingress.openapi import schemas as S
from ingress.openapi.responses import answers

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models", response_model=None, responses=answers({200: S.Models}))
async def list_models(runtime: RuntimeDep) -> dict[str, Any]:
    # The catalogue is static: with the database away it is still listed, availability unknown.
    current = await reported(runtime) or Availability.merge([])
    models = [{**entry, **current.public(entry["id"])}
              for entry in public_listing(runtime.settings.default_scale)]
    return {"total": len(models), "models": models}
