"""The web app's sources obey the rules the CSP and the translations depend on.

No inline script, style or event handler (the policy would block them, and the page would
break only in a browser); no HTML built from strings (Trusted Types refuse it); every text
key the markup and the modules use exists in every language of ``js/i18n.js``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingress.routes.web import WEB_ROOT

HTML = (WEB_ROOT / "index.html").read_text()
SCRIPTS = {p.relative_to(WEB_ROOT).as_posix(): p.read_text() for p in WEB_ROOT.rglob("*.js")}
I18N = SCRIPTS["js/i18n.js"]


def _languages() -> dict[str, set[str]]:
    """Each language block of MESSAGES and its keys."""
    body = I18N.split("const MESSAGES = {", 1)[1].split("\n};", 1)[0]
    blocks = re.split(r"^  (\w+): \{$", body, flags=re.M)[1:]
    return {name: set(re.findall(r"^    '([\w.]+)':", text, flags=re.M))
            for name, text in zip(blocks[::2], blocks[1::2], strict=True)}


def test_markup_has_no_inline_script_style_or_handlers() -> None:
    for tag in re.findall(r"<script\b[^>]*>", HTML):
        assert 'src="' in tag, tag
    assert "<style" not in HTML
    assert not re.search(r"\sstyle=", HTML)
    assert not re.search(r"\son[a-z]+=", HTML)
    assert "http://" not in HTML and "https://" not in HTML.replace("http://www.w3.org", "")


def test_modules_build_no_html_from_strings() -> None:
    for name, source in SCRIPTS.items():
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                     "new Function", "setAttribute('style'"):
            assert sink not in source, f"{name} uses {sink}"


def test_every_text_key_exists_in_every_language() -> None:
    languages = _languages()
    assert "es" in languages
    used = set(re.findall(r'data-i18n(?:-[\w-]+)?="([\w.]+)"', HTML))
    for source in SCRIPTS.values():
        used |= set(re.findall(r"\bt\('([\w.]+)'", source))
        used |= set(re.findall(r"(?:titleKey|empty|start|confirm): '([\w.]+)'", source))
    assert len(used) > 100
    for name, keys in languages.items():
        assert not used - keys, f"{name} lacks {sorted(used - keys)}"
        assert keys == languages["es"], f"{name} and es differ"


def test_status_labels_cover_the_manuals_statuses() -> None:
    keys = _languages()["es"]
    for status in ("pending", "processing", "completed", "failed"):
        assert f"status.image.{status}" in keys
    for status in ("pending", "in_progress", "completed", "error"):
        assert f"status.video.{status}" in keys


def test_no_file_reaches_outside_the_service() -> None:
    for path in Path(WEB_ROOT).rglob("*"):
        if path.suffix in (".js", ".css"):
            text = path.read_text()
            assert not re.search(r"https?://", text), path
