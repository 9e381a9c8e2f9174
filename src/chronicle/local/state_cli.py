"""``chronicle state check|repair``: the local runtime's state directory, offline (repair.py, snapshot.py).

    chronicle state check  [--state-dir .chronicle] [--project-dir DIR]   exit 0: loadable; 1: refused (says why)
    chronicle state repair [--state-dir .chronicle] [--project-dir DIR]   keeps intact records, reports what is lost
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def state_path(state_dir: str, project_dir: str | None) -> Path:
    """As `chronicle local` resolves it: relative to the project directory (the one holding template.yaml)."""
    path = Path(state_dir)
    if path.is_absolute():
        return path
    here = Path(project_dir or ".").resolve()
    root = next((d for d in (here, *here.parents) if (d / "template.yaml").is_file()), here)
    return root / path


def add_state_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("state", help="check or repair the state directory of `chronicle local`",
                              description="Check or repair a `chronicle local` state directory (not while it runs).")
    sub = p.add_subparsers(dest="state_command", metavar="<check|repair>")
    sub.required = True
    for name, text in (("check", "say whether the state directory can be loaded as it is (exit 1 if not)"),
                       ("repair", "keep every intact journal record, report exactly what is lost")):
        q = sub.add_parser(name, help=text, description=text)
        q.add_argument("--state-dir", default=".chronicle", help="the directory (default .chronicle)")
        q.add_argument("--project-dir", default=None, help="directory holding template.yaml (default: found upwards)")
        q.set_defaults(func=run_state)


def repair_and_report(path: Path, out: Any = sys.stdout) -> None:
    """Repair the directory at ``path`` (taking its lock) and print the report; raises what refuses it."""
    from .repair import repair
    from .statedir import StateDir

    state = StateDir(path).acquire()
    try:
        report = repair(state)
    finally:
        state.release()
    for line in report.lines():
        print(f"chronicle state repair: {line}", file=out)


def run_state(args: argparse.Namespace) -> int:
    from .journal import StateCorrupt
    from .snapshot import check_state
    from .statedir import StateDir, StateDirFormatError, StateDirLocked

    path = state_path(args.state_dir, args.project_dir)
    if not path.is_dir():
        print(f"chronicle state: {path} is not a directory", file=sys.stderr)
        return 1
    try:
        if args.state_command == "repair":
            repair_and_report(path)
            return 0
        state = StateDir(path).acquire()
        try:
            check_state(state)
        finally:
            state.release()
        print(f"chronicle state check: {path} is intact")
        return 0
    except (StateCorrupt, StateDirLocked, StateDirFormatError, OSError) as error:
        print(f"chronicle state {args.state_command}: {error}", file=sys.stderr)
        return 1
