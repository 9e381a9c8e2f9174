"""`chronicle schemas ...`: check, lock and new-version. Wired into chronicle.cli by `add_schemas_parser`.

    chronicle schemas check [--root DIR] [--update-lock]
    chronicle schemas lock [--root DIR] [--accept schemas-relative-path ...]
    chronicle schemas new-version EventType [--root DIR]

`--root` is the repository root (holding schemas/, statemachine/ and src/); by default the nearest directory
upwards from the current one that has schemas/events/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def find_repo(start: Path | None = None) -> Path:
    start = (start or Path.cwd()).resolve()
    for candidate in (start, *start.parents):
        if (candidate / "schemas" / "events").is_dir():
            return candidate
    raise FileNotFoundError(f"no schemas/events/ in {start} or above: pass --root")


def add_schemas_parser(subparsers: Any) -> None:
    schemas = subparsers.add_parser("schemas", help="check, lock and evolve the schema registry (schemas/)",
                                    description="See docs/event-versioning.md.")
    sub = schemas.add_subparsers(dest="schemas_command", metavar="<schemas command>")
    sub.required = True

    check = sub.add_parser("check", help="fail on edited released schemas, missing upcasters, bad samples ...")
    check.add_argument("--update-lock", action="store_true", help="release new schema files first (as `lock`)")
    check.set_defaults(func=run_check_command)

    lock = sub.add_parser("lock", help="release the schema files not in schemas/lock.json yet")
    lock.add_argument("--accept", nargs="+", default=[], metavar="FILE",
                      help="re-lock changed command schemas (schemas-relative, e.g. commands/CreateProject.json) "
                           "after checking the change is backward compatible")
    lock.set_defaults(func=run_lock_command)

    new = sub.add_parser("new-version", help="scaffold events/<EventType>/v<N+1>.json and its upcaster stub")
    new.add_argument("event_type", metavar="EventType")
    new.set_defaults(func=run_new_version_command)

    for parser in (check, lock, new):
        parser.add_argument("--root", type=Path, default=None, help="repository root (default: found upwards)")


def _repo(args: argparse.Namespace) -> Path:
    return args.root.resolve() if args.root else find_repo()


def _lock(repo: Path, accept: list[str]) -> None:
    from chronicle.schemas.check import update_lock

    for name in update_lock(repo / "schemas", accept):
        print(f"locked schemas/{name}")


def run_check_command(args: argparse.Namespace) -> int:
    from chronicle.schemas.check import run_check

    try:
        repo = _repo(args)
        if args.update_lock:
            _lock(repo, [])
    except (FileNotFoundError, ValueError) as error:
        print(f"chronicle schemas check: {error}", file=sys.stderr)
        return 2
    report = run_check(repo / "schemas", repo)
    print(report.text(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def run_lock_command(args: argparse.Namespace) -> int:
    try:
        _lock(_repo(args), args.accept)
    except (FileNotFoundError, ValueError) as error:
        print(f"chronicle schemas lock: {error}", file=sys.stderr)
        return 2
    return 0


def run_new_version_command(args: argparse.Namespace) -> int:
    from chronicle.schemas.scaffold import new_version

    try:
        repo = _repo(args)
        written = new_version(repo / "schemas", args.event_type, repo)
    except (FileNotFoundError, ValueError) as error:
        print(f"chronicle schemas new-version: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(repo)}")
    print("Next: edit the new schema and its samples, implement the upcaster stub, update the decider, then run "
          "`chronicle schemas check` (it fails until the stub is implemented) and `chronicle schemas lock`.")
    return 0
