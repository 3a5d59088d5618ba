"""The fault suite as a benchmark of robustness: how many faults it injected, and what they cost.

Runs ``tests/faults`` (the distributed deployment as separate processes on a private RabbitMQ
node and a SecantusDB server of its own; see tests/faults/harness.py) and reads back the
figures its conftest writes: faults injected (worker SIGKILL/SIGTERM mid-chunk, duplicates of
every message type, poison messages, broker stop/start, database pause and kill), jobs lost,
frames processed twice, hostile requests sent, and 5xx answers other than the documented 503.
The baseline is the suite's own bar: zero of everything but the faults and the bad inputs.

Reproduce:  .venv/bin/python bench/faults.py [pytest options, e.g. -k database]
The last line is always ``faults injected=<n> jobs_lost=<n> duplicate_frames=<n>
bad_inputs=<n> 5xx=<n>``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIELDS = (("faults", "faults injected"), ("jobs_lost", "jobs_lost"),
          ("duplicate_frames", "duplicate_frames"), ("bad_inputs", "bad_inputs"),
          ("server_errors", "5xx"))


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from bench._results import start

    run = start("faults", {"pytest_args": argv})
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        summary = Path(tmp) / "summary.json"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/faults", "-q", "-p", "no:cacheprovider",
             *argv], cwd=ROOT, env=dict(os.environ, FAULTS_SUMMARY=str(summary)), check=False)
        took = time.monotonic() - started
        if not summary.exists():
            print(f"the fault suite wrote no figures (pytest exit {done.returncode})")
            return done.returncode or 1
        figures = json.loads(summary.read_text())
    print(f"command: .venv/bin/python bench/faults.py {' '.join(argv)}".rstrip())
    print(f"suite: exit {done.returncode}, {took:.0f} s, {figures['jobs']} jobs")
    summary = " ".join(f"{label}={figures[key]}" for key, label in FIELDS)
    print(summary)
    run.finish(figures, summary, exit_code=done.returncode, seconds=round(took, 1))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
