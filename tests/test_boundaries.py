"""The dependency rule, checked: ``main → ingress, pipeline → common``.

The API process must not load torch nor any stage's code (it never runs a model, and a GPU
stage's package must be free to change without touching the API); ``common`` imports neither
side. The runtime check imports every ingress module (and runs ``python -m ingress --help``)
in a fresh interpreter and looks at what got loaded, so transitive imports count too; the
static check also catches imports hidden inside functions.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> list[str]:
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def _imported_names(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


_PROBE = """
import json, runpy, sys
for name in sys.argv[1:]:
    if name.endswith("__main__"):
        sys.argv = [name, "--help"]
        try:
            runpy.run_module(name.removesuffix(".__main__"), run_name="__main__")
        except SystemExit:
            pass
    else:
        __import__(name)
loaded = [m for m in sys.modules if m == "torch" or m.startswith(("torch.", "pipeline"))]
print(json.dumps(loaded))
"""


def test_the_api_loads_neither_torch_nor_any_pipeline_module() -> None:
    modules = _modules("ingress")
    assert "ingress.app" in modules and "ingress.__main__" in modules
    done = subprocess.run([sys.executable, "-c", _PROBE, *modules], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize(("package", "forbidden"),
                         [("ingress", ("pipeline", "torch")), ("common", ("ingress", "pipeline"))])
def test_no_module_imports_across_the_rule(package: str, forbidden: tuple[str, ...]) -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / package).rglob("*.py")
        for name in _imported_names(path)
        if name.split(".")[0] in forbidden
    }
    assert offenders == set()


def test_job_views_do_not_borrow_from_the_auth_package() -> None:
    """The manual's timestamp form is a view concern (``ingress/views.py``), not auth's."""
    for package in ("images", "videos"):
        for path in (ROOT / "ingress" / package).rglob("*.py"):
            assert not {n for n in _imported_names(path) if n.startswith("ingress.auth.")
                        and n != "ingress.auth.current"}, path


def test_every_dependency_alias_is_used() -> None:
    deps = ROOT / "ingress" / "deps.py"
    aliases = {node.targets[0].id for node in ast.parse(deps.read_text()).body
               if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
               and node.targets[0].id.endswith("Dep")}
    assert aliases
    users = "".join(p.read_text() for p in (ROOT / "ingress").rglob("*.py") if p != deps)
    assert {alias for alias in aliases if alias not in users} == set()
