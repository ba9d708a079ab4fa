"""The docs stand alone in a clone, beyond the links resolving (tests/test_readme_commands.py):
a link's #anchor names a heading of its target, no link is an absolute path, every repository
path a doc names in backticks exists, and every `tests/FILE.py::name` names a test in that file.
A doc that names a file or a test that was renamed or removed tells a reader something false."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = r"(?:tests|passivbot|harness|bench|docs|live_settings|backtest_configs|\.ci)"
PLACEHOLDERS = ("NAME", "USER", "SYMBOL", "EXCHANGE", "*", "{", "<")


def slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_slug_matches_githubs_anchors():
    assert slug("Many markets, one wallet") == "many-markets-one-wallet"
    assert slug("Console and logs") == "console-and-logs"
    assert slug("Funding, margin and liquidation") == "funding-margin-and-liquidation"


def links(text: str) -> list[str]:
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+://", t)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_anchor_names_a_heading_and_no_link_is_absolute(doc):
    bad = []
    for target in links(doc.read_text(encoding="utf-8")):
        if target.startswith("/") or re.match(r"[A-Za-z]:\\", target):
            bad.append(f"{target} (absolute)")
            continue
        name, _, frag = target.partition("#")
        path = (doc.parent / name).resolve() if name else doc
        if frag and path.suffix == ".md" and path.is_file():
            heads = {slug(h) for h in re.findall(r"^#+ (.*)$", path.read_text(encoding="utf-8"),
                                                 re.M)}
            if frag not in heads:
                bad.append(f"{target} (no heading '{frag}' in {path.name})")
    assert not bad, f"{doc.name}: {bad}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_repository_path_a_doc_names_exists(doc):
    text = doc.read_text(encoding="utf-8")
    bad = []
    for m in re.findall(rf"`({TOP}/[\w./\-]+?)(?:::\w+)?`", text):
        path = m.rstrip(".,")
        if any(p in path for p in PLACEHOLDERS):
            continue
        if not (ROOT / path).exists():
            bad.append(path)
    assert not bad, f"{doc.name} names files a clone does not have: {bad}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_named_test_exists(doc):
    text = doc.read_text(encoding="utf-8")
    bad = []
    for path, name in re.findall(r"(tests/[\w/]+\.py)::(\w+)", text):
        f = ROOT / path
        if not f.is_file() or not re.search(rf"def {name}\b", f.read_text(encoding="utf-8")):
            bad.append(f"{path}::{name}")
    assert not bad, f"{doc.name} names tests that do not exist: {bad}"


def test_no_doc_points_outside_the_repository():
    bad = [d.name for d in DOCS if re.search(r"\.\./shared|/work/", d.read_text(encoding="utf-8"))]
    assert not bad, bad


def test_live_md_attaches_the_console_and_status_page_screenshots_of_modest_size():
    """Issue 20: a screenshot of the status page and of the console during a paper session,
    attached to docs/live.md (made by `python3 -m harness.console_shot`)."""
    text = (ROOT / "docs" / "live.md").read_text(encoding="utf-8")
    for img in ("img/console.png", "img/status_page.png"):
        assert f"]({img})" in text, img
    for png in (ROOT / "docs" / "img").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png.name
        assert png.stat().st_size < 300_000, f"{png.name}: {png.stat().st_size} bytes"
