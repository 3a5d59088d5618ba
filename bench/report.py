"""The tables of ``bench/RESULTS.md``, generated from the raw lines in ``bench/results/``.

Every bench appends one JSON line per run (``bench/_results.py``). ``RESULTS.md`` holds one
generated block per bench, between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``;
this script rewrites what is between the markers and leaves the hand-written prose alone.
Each row carries its machine and load, so no figure is read without them, and an anchor
(``#NAME-rN``: run N of that bench, in the order the runs were recorded) that the docs link to.

    .venv/bin/python bench/report.py           # rewrite the blocks
    .venv/bin/python bench/report.py --check   # exit 1 if RESULTS.md differs (tests do this)
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOCUMENT = ROOT / "bench" / "RESULTS.md"
BLOCK = re.compile(r"(<!-- results:([\w-]+) -->\n)(.*?)(<!-- /results:\2 -->)", re.S)
HEADER = ("| run | UTC | commit | machine | load (1 min) before → after | arguments | samples "
          "(median, min–max, n) | summary line |\n|---|---|---|---|---|---|---|---|\n")


def load_runs(folder: Path = RESULTS) -> dict[str, list[dict[str, Any]]]:
    """Every recorded run, by bench, in the order recorded."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        runs[path.stem] = [json.loads(line) for line in path.read_text().splitlines() if line]
    return runs


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _numbers(value: Any) -> list[float] | None:
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return [float(v) for v in value]
    return None


def _spread(values: list[float]) -> str:
    return (f"{statistics.median(values):.4g} ({min(values):.4g}–{max(values):.4g}, "
            f"n={len(values)})")


def describe_samples(samples: Any, prefix: str = "") -> list[str]:
    """One ``name: median (min–max, n)`` per list of numbers found in ``samples``."""
    numbers = _numbers(samples)
    if numbers is not None:
        return [f"{prefix or 'all'}: {_spread(numbers)}"]
    found: list[str] = []
    if isinstance(samples, dict):
        for key, value in samples.items():
            found += describe_samples(value, f"{prefix}.{key}" if prefix else str(key))
    return found


def machine(record: dict[str, Any]) -> str:
    m = record["machine"]
    parts = [f"{m['cpu']}, {m['cores']} cores", " ".join(m.get("cpu_features") or []) or
             "no AVX2", f"{m.get('memory_gib')} GiB"]
    if m.get("torch"):
        parts.append(f"torch {m['torch']}")
    parts.append(f"GPU: {m['cuda_device']}" if m.get("cuda_device") else "no GPU")
    return ", ".join(parts)


# The fields every line has (bench/_results.py); any other list of numbers a bench adds (the
# per-round ratios, say) is shown beside the samples.
STANDARD = {"bench", "args", "commit", "dirty", "utc", "machine", "load_before", "load_after",
            "samples", "summary"}


def row(bench: str, index: int, record: dict[str, Any]) -> str:
    commit = record["commit"][:10] + (" (dirty)" if record["dirty"] else "")
    args = " ".join(f"{k}={v}" for k, v in sorted(record["args"].items()))
    extra = {k: v for k, v in sorted(record.items()) if k not in STANDARD and _numbers(v)}
    found = describe_samples(record["samples"]) + describe_samples(extra)
    samples = "<br>".join(found) or "(see the JSON line)"
    cells = [f'<a id="{bench}-r{index}"></a>{index}', record["utc"], commit, machine(record),
             f"{record['load_before'][0]} → {record['load_after'][0]}", args, samples,
             f"`{record['summary']}`"]
    return "| " + " | ".join(_cell(c) for c in cells) + " |\n"


def table(bench: str, records: list[dict[str, Any]]) -> str:
    if not records:
        return "No recorded run yet.\n"
    return HEADER + "".join(row(bench, i, r) for i, r in enumerate(records, 1))


def render(document: str, runs: dict[str, list[dict[str, Any]]]) -> str:
    """``document`` with every generated block rewritten from ``runs``."""
    return BLOCK.sub(lambda m: m.group(1) + table(m.group(2), runs.get(m.group(2), []))
                     + m.group(4), document)


def blocks(document: str) -> list[str]:
    return [m.group(2) for m in BLOCK.finditer(document)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="report whether RESULTS.md is current instead of rewriting it")
    args = parser.parse_args()
    current = DOCUMENT.read_text()
    runs = load_runs()
    missing = sorted(set(runs) - set(blocks(current)))
    if missing:
        print(f"RESULTS.md has no block for: {', '.join(missing)}", file=sys.stderr)
        return 1
    wanted = render(current, runs)
    if args.check:
        if wanted != current:
            print("bench/RESULTS.md is not what bench/report.py generates: run it",
                  file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
