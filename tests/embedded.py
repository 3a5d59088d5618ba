"""Run the real embedded service (``python main.py``, from ``bench/_support/service.py``) for
tests of the manual's examples.

The manual's examples talk to ``http://localhost:8888``; the service runs on a free port and
the tests substitute only that address (and the manual's placeholder values).
"""

from __future__ import annotations

import json
from typing import Any

from bench._support.service import (
    MANUAL_URL,
    ROOT,
    Service,
    embedded_service,
    free_port,
    wait_healthy,
)

__all__ = ["MANUAL", "MANUAL_URL", "ROOT", "Service", "embedded_service", "free_port",
           "manual_code_blocks", "manual_models", "wait_healthy"]

# The manual as shipped with the repository (tests/test_manual_copy.py keeps it current).
MANUAL = ROOT / "docs" / "user-manual.es.md"


def manual_code_blocks(language: str, heading: str) -> list[str]:
    """The fenced ``language`` blocks under the manual's ``heading`` (up to the next heading
    of the same or a higher level; ``#`` lines inside code blocks are not headings)."""
    level = len(heading.split(" ", 1)[0])
    blocks: list[str] = []
    inside, current, fence = False, None, False
    for line in MANUAL.read_text().splitlines(keepends=True):
        if line.startswith("```"):
            if fence and current is not None:
                blocks.append(current)
                current = None
            elif inside and line.strip() == f"```{language}":
                current = ""
            fence = not fence
            continue
        if fence:
            if current is not None:
                current += line
            continue
        if line.startswith("#"):
            marks = len(line) - len(line.lstrip("#"))
            if line.rstrip("\n") == heading:
                inside = True
            elif inside and marks <= level:
                break
    return blocks


def manual_models() -> list[dict[str, Any]]:
    """The model entries the manual prints under "Listar Modelos Disponibles", as parsed JSON."""
    (example,) = manual_code_blocks("json", "#### Listar Modelos Disponibles")
    models: list[dict[str, Any]] = json.loads(example)["models"]
    return models
