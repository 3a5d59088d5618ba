"""Refuse, before any work, a job whose model (or GFPGAN) no live upscale worker can have.

The workers report their weights (``common.model_status``); a model every live worker reports
``missing`` gets the 503 the worker would give, with its message (what failed, the commands
that fetch or import the weights) and ``Retry-After`` up to the worker's next attempt. Nothing
is stored, nothing is queued. An unknown state (no upscale worker running yet) is no reason to
refuse: the job waits in its queue for a worker, as any other.
"""

from __future__ import annotations

import asyncio

from common.errors import ModelUnavailable
from common.model_status import FACE_ENHANCE, Availability, Weights, availability
from common.runtime import Runtime

# The public routes that show availability answer quickly even while the database hangs.
PROBE_TIMEOUT = 2.0


async def reported(runtime: Runtime) -> Availability | None:
    """The live workers' merged report; None when the database does not answer in time."""
    try:
        return await asyncio.wait_for(availability(runtime.store), PROBE_TIMEOUT)
    except Exception:
        return None


async def require_models(runtime: Runtime, model_type: str, face_enhance: bool,
                         prefix: str = "") -> None:
    """``prefix`` starts the message the way the worker's own failure would (images: the
    manual's "Error procesando imagen: "), so a client sees one answer whichever side refused."""
    current = await availability(runtime.store)
    for key in (model_type, FACE_ENHANCE) if face_enhance else (model_type,):
        state = current.state(key)
        if state.weights == Weights.MISSING:
            what = "face_enhance" if key == FACE_ENHANCE else f"el modelo {key}"
            raise ModelUnavailable(prefix + (state.message or f"No disponible: {what}"),
                                   retry_after=state.retry_after(current.now))
