"""The benches stand on their own: nothing under ``bench/`` imports from ``tests/``.

What they share with the tests lives in ``bench/_support/`` (the tests import it from there),
so a bench keeps running whatever the test suite does. The static check reads every import,
including those inside functions; the runtime one imports each support module in a fresh
interpreter and looks at what got loaded, so transitive imports count too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_bench_module_imports_from_tests() -> None:
    scripts = sorted(BENCH.rglob("*.py"))
    assert len(scripts) >= 15  # the benches and their support modules were all found
    offending = {str(p.relative_to(ROOT)): sorted(n for n in _imports(p)
                                                  if n == "tests" or n.startswith("tests."))
                 for p in scripts}
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_support_modules_load_no_test_code() -> None:
    modules = sorted(f"bench._support.{p.stem}" for p in (BENCH / "_support").glob("*.py")
                     if p.stem != "__init__")
    probe = ("import importlib, json, sys\n"
             f"for name in {modules!r}: importlib.import_module(name)\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'tests')))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert len(modules) == 10
    assert json.loads(done.stdout) == []
