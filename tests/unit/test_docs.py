"""The docs point only at files the repository has (DESIGN.md, a design note, is not one of them)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_docs_cite_no_file_outside_the_repository():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert "DESIGN.md" not in text, f"{doc.relative_to(ROOT)} cites DESIGN.md, which is not in the repository"
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if target.startswith(("http://", "https://", "mailto:", "../shared/")):
                continue  # the shared folder (SPEC.md) sits beside the repository, as the README says
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to missing {target}"


def test_the_suite_duration_is_stated_once():
    """Timings drift: the whole suite's duration lives in the README; docs refer to it instead of restating it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"`make test` takes about [\d.]+ minutes", readme)
    for doc in DOCS[1:]:
        assert not re.search(r"(make test|pytest)[^.\n]*about [\d.]+ minutes", doc.read_text(encoding="utf-8")), doc
