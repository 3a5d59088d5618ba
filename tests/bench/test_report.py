"""``bench/RESULTS.md``'s tables are what ``bench/report.py`` makes of the recorded runs, and
every bench records its runs.

A figure typed by hand into a generated block, a results line committed without regenerating
the page, or a bench whose runs have no block: each fails here.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from bench import report

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_")
                 and p.name != "report.py")


def test_the_committed_tables_are_what_report_generates() -> None:
    document = report.DOCUMENT.read_text()
    assert report.render(document, report.load_runs()) == document, (
        "bench/RESULTS.md differs from the recorded runs: run .venv/bin/python bench/report.py")


def test_every_recorded_bench_has_a_block_and_every_block_a_bench() -> None:
    names = report.blocks(report.DOCUMENT.read_text())
    assert len(names) == len(set(names)), "one block per bench"
    assert set(report.load_runs()) <= set(names)
    assert {n for n in names if not (BENCH / f"{n}.py").is_file()} == set()


def test_every_recorded_line_carries_its_machine_and_load() -> None:
    for bench, records in report.load_runs().items():
        for record in records:
            assert record["bench"] == bench
            machine = record["machine"]
            assert machine["cpu"] and machine["cores"] >= 1, record["utc"]
            assert "cpu_features" in machine and "cuda_device" in machine
            assert len(record["commit"]) == 40 and isinstance(record["dirty"], bool)
            assert len(record["load_before"]) == 3 and len(record["load_after"]) == 3
            assert record["summary"] and record["samples"] is not None


def test_a_row_shows_the_machine_the_load_and_each_sides_spread(tmp_path: Path) -> None:
    record = {
        "bench": "images", "args": {"repeats": 5}, "commit": "a" * 40, "dirty": True,
        "utc": "2026-12-07T13:00:00+00:00", "load_before": [3.5, 2.0, 1.0],
        "load_after": [4.25, 2.0, 1.0], "summary": "images api_overhead=1.50 added_ms=100",
        "machine": {"cpu": "AMD EPYC", "cores": 2, "cpu_features": ["avx512_bf16"],
                    "memory_gib": 23.5, "torch": "2.13.0+cpu", "cuda_device": None},
        "samples": {"engine": [0.2, 0.1, 0.3, 0.4, 0.5], "api": [0.3, 0.6, 0.4, 0.5, 0.7]},
    }
    (tmp_path / "images.jsonl").write_text(json.dumps(record) + "\n")
    document = "prose\n<!-- results:images -->\nTYPED BY HAND\n<!-- /results:images -->\nmore\n"
    rendered = report.render(document, report.load_runs(tmp_path))
    assert "TYPED BY HAND" not in rendered
    assert rendered.startswith("prose\n") and rendered.endswith("more\n")
    (line,) = [row for row in rendered.splitlines() if row.startswith('| <a id="images-r1">')]
    for part in ("AMD EPYC, 2 cores", "avx512_bf16", "no GPU", "3.5 → 4.25", "(dirty)",
                 "engine: 0.3 (0.1–0.5, n=5)", "api: 0.5 (0.3–0.7, n=5)", "repeats=5",
                 "`images api_overhead=1.50 added_ms=100`"):
        assert part in line, part


def _calls(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
        elif isinstance(node, ast.ImportFrom) and node.module == "bench._results":
            names.update(f"import:{alias.name}" for alias in node.names)
            names.update(alias.asname for alias in node.names if alias.asname)
    return names


def test_every_bench_records_its_run() -> None:
    assert len(SCRIPTS) >= 13
    silent = [p.name for p in SCRIPTS
              if "import:start" not in _calls(p) or "finish" not in _calls(p)]
    assert silent == []
