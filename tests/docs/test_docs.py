"""The Markdown a reader follows: every relative link and anchor resolves, and every setting
is documented, once, on the configuration page.

Links: every ``[text](target)``, ``<img src>`` and ``<a href>`` outside code in the tracked
Markdown files, relative targets only (web addresses are not fetched). A target must exist,
and an anchor must be a heading of the target page (GitHub's slugs) or an ``id="..."`` in it.

Settings: each field of ``common/settings.Settings`` is an environment variable (its name in
capitals); it must be named in the first cell of exactly one row of the table in
``docs/configuration.md``, and in no table row elsewhere. A row may also name a variable that
only docker compose or a script reads, when that file reads it. A new setting: add the row
``| `NAME` | default | meaning |`` to ``docs/configuration.md``.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HTML_LINK = re.compile(r"<(?:img|a)\s[^>]*?(?:src|href)=\"([^\"]+)\"")
ANCHOR_ID = re.compile(r"\bid=\"([^\"]+)\"")
ROW_NAMES = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def markdown_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                             "*.md"], cwd=ROOT, capture_output=True, check=True).stdout
    return sorted(ROOT / name for name in filter(None, listed.decode().split("\0"))
                  if (ROOT / name).is_file())


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans removed."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "", line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text()
    found: set[str] = set(ANCHOR_ID.findall(text))
    seen: Counter[str] = Counter()
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+)", line)):
            base = slug(match.group(1))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
    return found


def broken_links(path: Path) -> list[str]:
    broken = []
    for line in prose_lines(path.read_text()):
        for target in LINK.findall(line) + HTML_LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if not dest.exists():
                broken.append(f"{target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{target} (no such anchor)")
    return broken


def test_the_checker_finds_a_broken_link_and_a_broken_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# A page\n\n## Some `code` heading\n<a id=\"row-1\"></a>\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#some-code-heading) [ok](other.md#row-1) [ok](#here)\n"
                    "## Here\n[bad](missing.md) [bad](other.md#nowhere)\n"
                    "`[not a link](missing.md)`\n```\n[not a link](gone.md)\n```\n"
                    "<img src=\"img/x.png\"> [web](https://example.com/x)\n")
    assert broken_links(page) == ["missing.md (no such file)", "other.md#nowhere (no such anchor)",
                                  "img/x.png (no such file)"]


def test_every_relative_link_and_anchor_resolves() -> None:
    files = markdown_files()
    assert ROOT / "README.md" in files and CONFIGURATION in files
    broken = {str(p.relative_to(ROOT)): found for p in files if (found := broken_links(p))}
    assert broken == {}


def test_every_topic_page_is_reachable_from_the_readme() -> None:
    readme = ROOT / "README.md"
    linked = {(readme.parent / t.partition("#")[0]).resolve()
              for line in prose_lines(readme.read_text()) for t in LINK.findall(line)}
    pages = {p.resolve() for p in (ROOT / "docs").glob("*.md")}
    assert len(pages) >= 10
    assert pages - linked == set()


def test_the_readme_is_a_few_screens() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) < 250


def _row_names(path: Path) -> list[str]:
    """The variables named in the first cell of each table row of ``path``."""
    names = []
    for line in path.read_text().splitlines():
        if line.startswith("| `"):
            names += ROW_NAMES.findall(line.split("|")[1])
    return names


def _read_outside_python() -> str:
    """What docker compose and the scripts read (variables only they use may have rows)."""
    files = [*ROOT.glob("docker-compose*.yml"), ROOT / ".env", *ROOT.glob("scripts/*.sh")]
    return "".join(p.read_text() for p in files)


def test_every_setting_is_documented_once_on_the_configuration_page() -> None:
    settings = {name.upper() for name in Settings.model_fields}
    rows = Counter(_row_names(CONFIGURATION))
    undocumented = sorted(settings - set(rows))
    assert undocumented == [], (
        f"add a row | `NAME` | default | meaning | to docs/configuration.md for {undocumented}")
    assert sorted(n for n, count in rows.items() if count > 1) == []
    elsewhere = _read_outside_python()
    assert sorted(n for n in rows if n not in settings and n not in elsewhere) == []


OTHER_PAGES = [*sorted(p.name for p in (ROOT / "docs").glob("*.md") if p != CONFIGURATION),
               "../README.md"]


@pytest.mark.parametrize("page", OTHER_PAGES)
def test_no_other_page_has_a_settings_row(page: str) -> None:
    settings = {name.upper() for name in Settings.model_fields}
    assert sorted(set(_row_names(ROOT / "docs" / page)) & settings) == []
