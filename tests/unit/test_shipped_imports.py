"""Nothing shipped imports the local runtime at module level.

chronicle.local (moto, graphql-core, websockets) is a local extra and never part of the Lambda layer; the CLI and
every other module reach it only inside the commands that need it (`chronicle local`, `chronicle invoke`,
`chronicle cost`). Importing all of them in a fresh interpreter must leave chronicle.local and moto unloaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
LOCAL_ONLY = ("chronicle.local", "moto", "graphql", "websockets", "flask", "werkzeug")


def shipped_modules() -> list[str]:
    """Every module under src/chronicle except chronicle.local, found on disk (walking packages would import them)."""
    names = []
    for path in sorted((SRC / "chronicle").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[:2] == ("chronicle", "local"):
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


IMPORT_ALL = """
import importlib, json, sys
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def test_shipped_modules_do_not_import_the_local_runtime() -> None:
    modules = shipped_modules()
    assert "chronicle.cli" in modules and "chronicle.cost.model" in modules
    out = subprocess.run([sys.executable, "-c", IMPORT_ALL, json.dumps(modules)], check=True, capture_output=True,
                         text=True, cwd=SRC.parent).stdout
    loaded = [m for m in json.loads(out) if m.split(".")[0] in LOCAL_ONLY or m.startswith("chronicle.local")]
    assert not [m for m in loaded if m.startswith(LOCAL_ONLY)], f"imported at module level: {loaded}"


def test_the_cli_still_builds_every_command() -> None:
    from chronicle.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse has no public view
    assert {"local", "invoke", "cost", "projections", "verify", "archive", "schemas"} <= set(commands)
