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
        prose = re.sub(r"`[^`\n]*`", "", text)  # a regex in a code span is no link
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", prose):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to missing {target}"


def test_the_suite_duration_is_stated_once():
    """Timings drift: the whole suite's duration lives in the README; docs refer to it instead of restating it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"`make test` takes about [\d.]+ minutes", readme)
    for doc in DOCS[1:]:
        assert not re.search(r"(make test|pytest)[^.\n]*about [\d.]+ minutes", doc.read_text(encoding="utf-8")), doc


# Files a user who clones the project reads. Not scanned: schemas/ (released files are locked by sha256: their
# descriptions change only with a new version) and template.yaml (its comments; being restructured elsewhere).
_SCANNED = ("README.md", "docs", "src/chronicle", "functions", "api", "tests", "bench", "events", "statemachine")
_OUTSIDE = ("../" + "shared", "SPEC" + " section", "SPEC" + ".md")


def test_nothing_points_at_a_contract_outside_the_project():
    """The contract is docs/reference; a user has no shared folder and no SPEC file to follow."""
    found = []
    for top in _SCANNED:
        base = ROOT / top
        for path in [base] if base.is_file() else sorted(base.rglob("*")):
            if path.suffix not in (".md", ".py", ".graphql", ".yaml", ".json") or "__pycache__" in path.parts:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{path.relative_to(ROOT)}: {needle}" for needle in _OUTSIDE if needle in text]
    assert found == [], found


def test_the_reference_covers_every_command_error_and_query_field():
    reference = ROOT / "docs" / "reference"
    commands = (reference / "commands.md").read_text(encoding="utf-8")
    for schema in (ROOT / "schemas" / "commands").glob("*.json"):
        assert f"## {schema.stem}" in commands, f"docs/reference/commands.md lacks {schema.stem}"
    from chronicle.errors import HTTP_STATUS

    errors = (reference / "errors.md").read_text(encoding="utf-8")
    for code, status in HTTP_STATUS.items():
        assert f"| {status} | `{code}` |" in errors, f"docs/reference/errors.md lacks {code} ({status})"
    graphql = (reference / "graphql.md").read_text(encoding="utf-8")
    assert (ROOT / "api" / "schema.graphql").read_text(encoding="utf-8") in graphql, \
        "docs/reference/graphql.md is not the current api/schema.graphql"
