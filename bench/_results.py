"""Raw bench results: one JSON line per run in ``bench/results/<bench>.jsonl``.

Every bench calls :func:`start` before it measures (it reads the load average and the machine)
and :meth:`Run.finish` with its raw samples and the summary line it prints. The line carries
what makes a figure readable later: the commit (and whether the tree was dirty), the UTC time,
the machine (CPU model, cores, the CPU features that decide bf16 speed, memory, torch, a CUDA
device if any), the load average before and after, and every raw sample. ``bench/report.py``
turns these lines into the tables of ``bench/RESULTS.md``; nothing there is typed by hand.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR", ROOT / "bench" / "results"))
# The CPU flags that move this project's figures: bf16 matmul paths and wide vectors.
CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni")


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpuinfo() -> tuple[str, list[str]]:
    model, flags = platform.processor() or "unknown", set[str]()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("", "unknown", platform.machine()):
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return model, [f for f in CPU_FEATURES if f in flags]


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _torch() -> tuple[str | None, str | None]:
    """torch's version and CUDA device, only when the bench already imported torch (no
    bench pays torch's import for its record)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None, None
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return str(torch.__version__), device


def machine() -> dict[str, Any]:
    model, features = _cpuinfo()
    return {"cpu": model, "cores": os.cpu_count(), "cpu_features": features,
            "memory_gib": _memory_gib(), "python": platform.python_version()}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@dataclass
class Run:
    bench: str
    args: dict[str, Any]
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    load_before: list[float] = field(default_factory=load)
    # Read when the run starts: the code measured is the code checked out then (a commit made
    # while a long bench runs must not be credited with its figures).
    # Without a .git (a copy on a GPU machine), BENCH_COMMIT names the commit the copy was
    # made from (scripts/gpu-prepare.sh records it).
    commit: str = field(default_factory=lambda: _git("rev-parse", "HEAD")
                        or os.environ.get("BENCH_COMMIT", ""))
    # The results files themselves do not count: a previous run's line is not code.
    dirty: bool = field(default_factory=lambda: bool(
        _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results")))

    def finish(self, samples: Any, summary: str, **extra: Any) -> dict[str, Any]:
        """Append this run's line; return it. ``samples``: every raw measurement, as the
        bench holds them (lists per side, dicts per round...); ``summary``: the line printed."""
        version, device = _torch()
        record = {
            "bench": self.bench, "args": self.args, "commit": self.commit,
            "dirty": self.dirty, "utc": self.started,
            "machine": {**machine(), "torch": version, "cuda_device": device},
            "load_before": self.load_before, "load_after": load(),
            "samples": samples, "summary": summary, **extra,
        }
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        with (RESULTS_DIR / f"{self.bench}.jsonl").open("a") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")
        return record


def start(bench: str, args: Any) -> Run:
    """Begin recording a run of ``bench`` with its parsed ``args`` (argparse namespace or dict)."""
    values = vars(args) if hasattr(args, "__dict__") else dict(args)
    return Run(bench, {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()})
