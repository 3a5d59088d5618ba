"""Model weight files: pinned official releases, verified downloads, ncnn conversions, imports.

- ``files``: the pins (URL, size, SHA-256 of each official file), the on-disk variants and
  their records, host-wide locks, atomic writes;
- ``fetch``: the verified download;
- ``resolve``: the resolution order (verified file, download, conversion from the installed
  ncnn release, else a 503-class ``ModelUnavailable`` naming the commands) and the per-model
  state the upscale worker reports to the API.

This package never imports torch (the conversion is imported when it runs), so the worker's
report and the command line's ``list`` stay cheap.

CLI: ``python -m pipeline.upscale.engine.weights {prepare,fetch,import,convert-ncnn,list}``
(``weights/cli.py``, run through ``weights/__main__.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from common.errors import ModelUnavailable
from pipeline.upscale.engine.weights.fetch import DownloadFailed, download, forget_unreachable
from pipeline.upscale.engine.weights.files import (
    BASE_URL_ENV,
    CONVERTED_SUFFIX,
    DEFAULT_BASE_URL,
    FACE_WEIGHTS,
    LOCAL_SUFFIX,
    OFFICIAL,
    Kind,
    WeightFile,
    atomic_target,
    is_verified,
    lock,
    official,
    read_record,
    sha256_of,
    variant_ok,
    write_record,
)
from pipeline.upscale.engine.weights.resolve import (
    RETRY_SECONDS,
    find_local,
    local_kind,
    obtain,
    report,
    state_of,
    unavailable_message,
)

__all__ = [
    "BASE_URL_ENV", "CONVERTED_SUFFIX", "DEFAULT_BASE_URL", "FACE_WEIGHTS", "LOCAL_SUFFIX",
    "OFFICIAL", "RETRY_SECONDS", "DownloadFailed", "WeightFile", "atomic_target", "download",
    "find_local", "forget_unreachable", "import_file", "is_verified", "local_kind", "lock",
    "obtain", "official", "read_record", "report", "sha256_of", "state_of",
    "unavailable_message", "variant_ok", "write_record",
]


def import_file(filename: str, source: Path, models_dir: Path, *,
                unofficial: bool = False) -> Path:
    """Copy a local file in: the official name if its hash matches, else (if allowed) as the
    ``.local.pth`` variant, recorded as imported from ``source``."""
    wf = official(filename)
    digest = sha256_of(source)
    kind: Kind
    if source.stat().st_size == wf.size and digest == wf.sha256:
        dest, kind = models_dir / wf.filename, "official"
    elif unofficial:
        dest, kind = models_dir / wf.local_name(), "imported"
    else:
        raise ModelUnavailable(
            f"{source} is not the official {filename} (size/SHA-256 differ); "
            "pass --unofficial to import it as a local variant")
    with lock(models_dir, wf):
        with atomic_target(dest) as tmp:
            shutil.copyfile(source, tmp)
        write_record(dest, kind, f"imported from {source.name}", sha256=digest)
    return dest
