"""The ``chronicle`` command line.

    chronicle local [--host 127.0.0.1] [--port 3000] [--state-dir .chronicle] [--ephemeral] [--aws-port N]
                    [--admin ID ...] [--repair] [--cors-origin ORIGIN ...] [--no-watch]   (watching: chronicle.local.watch)
    chronicle state check|repair [--state-dir .chronicle]   (chronicle.local.state_cli)
    chronicle invoke FUNCTION [-e events/<fn>/<case>.json] [--running [--url URL]] [--env-vars FILE]
                     [--parameter-overrides 'K=V ...'] [--debug-port N]   (chronicle.local.invoke)
    chronicle --version
    chronicle schemas check|lock|new-version ...      (chronicle.schemas.cli)
    chronicle projections rebuild ...                 (chronicle.projections.cli)
    chronicle verify ... / chronicle archive run ...  (chronicle.eventstore.cli)
    chronicle cost [--rate 50/s] [--mix T=W,...]      (chronicle.cost.cli)
    chronicle token --actor ID [--state-dir DIR]      (chronicle.local.tokens)
    chronicle executions list|show ... [--aws]        (chronicle.executions_cli; --aws: chronicle.executions_aws)

Each subcommand is a ``add_<name>_parser(subparsers)`` function that sets ``func`` (returns an exit code).
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
from typing import Any
from collections.abc import Sequence

from chronicle.eventstore.cli import add_archive_parser, add_verify_parser
from chronicle.cost.cli import add_cost_parser
from chronicle.executions_cli import add_executions_parser
from chronicle.projections.cli import add_projections_parser
from chronicle.schemas.cli import add_schemas_parser


def add_state_parser(subparsers: Any) -> None:
    from chronicle.local.state_cli import add_state_parser as add  # the state dir's checks, not the runtime

    add(subparsers)


def add_token_parser(subparsers: Any) -> None:
    from chronicle.local.tokens import add_token_parser as add  # stdlib only: the runtime itself stays unloaded

    add(subparsers)


def add_local_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "local", help="run the whole stack on this machine (no AWS account, no Docker)",
        description="Create template.yaml's resources in an embedded AWS emulator (moto), run the real state "
                    "machines and Lambda handlers in-process, and serve the command API and /graphql.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=3000, help="API port (default 3000; 0 = any free port)")
    p.add_argument("--state-dir", default=".chronicle", help="where state is kept between runs (default .chronicle)")
    p.add_argument("--ephemeral", action="store_true", help="keep nothing: start empty, save nothing")
    p.add_argument("--aws-port", type=int, default=None,
                   help="port of the emulated AWS endpoint (default: --port + 1, so 3001; any free one if --port is 0)")
    p.add_argument("--project-dir", default=None, help="directory holding template.yaml (default: found upwards)")
    p.add_argument("--admin", dest="admins", action="append", default=[], metavar="ID",
                   help="an actor id holding admin on * (the stack parameter AdminActorIds; repeatable)")
    p.add_argument("--repair", action="store_true",
                   help="repair a damaged state directory first (as `chronicle state repair`), then start")
    p.add_argument("--cors-origin", dest="cors_origins", action="append", default=[], metavar="ORIGIN",
                   help="a web origin (https://app.example:8080) allowed to call the local API (commands, /graphql, "
                        "the console, WebSockets) and the emulated AWS endpoint from a browser (repeatable; "
                        "default: none but the server's own)")
    p.add_argument("--watch", action=argparse.BooleanOptionalAction, default=True,
                   help="reload edits to src/, functions/, schemas/, statemachine/ and template.yaml for the next "
                        "command, keeping state (default on; --no-watch turns it off; docs/local-runtime.md)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging (emulator requests, ASL errors)")
    p.set_defaults(func=run_local)


def aws_port(port: int, chosen: int | None) -> int | None:
    """The emulator's port: stable by default (the API port + 1), so a saved `aws --endpoint-url` keeps working."""
    if chosen is not None:
        return chosen or None
    return port + 1 if port else None


def run_local(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from chronicle.local.runtime import LocalRuntime  # sets AWS env before any handler import
    from chronicle.local.trail import console_logging

    console_logging(sys.stderr, verbose=args.verbose)  # each 500 with its traceback, each refusal: without -v

    runtime = LocalRuntime(root=args.project_dir, host=args.host, port=args.port, state_dir=args.state_dir,
                           ephemeral=args.ephemeral, aws_port=aws_port(args.port, args.aws_port), admins=args.admins,
                           cors_origins=args.cors_origins, watch=args.watch)

    stop_requested = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        if not stop_requested.is_set():
            print(f"\nStopping ({signal.Signals(signum).name}){'' if args.ephemeral else ', saving state'}...",
                  flush=True)
        stop_requested.set()

    try:
        if args.repair and not args.ephemeral and runtime.state_dir.is_dir():
            from chronicle.local.state_cli import repair_and_report

            repair_and_report(runtime.state_dir)
        runtime.start()
    except Exception as exc:  # noqa: BLE001 - a clear one-line error, not a traceback
        from chronicle.local.runtime import PortInUse

        reason = exc.strerror if isinstance(exc, PortInUse) else f"{type(exc).__name__}: {exc}"
        print(f"chronicle local: cannot start: {reason}", file=sys.stderr)
        if args.verbose:
            raise
        return 1
    # What start() built (moto's models and backends, botocore's service models, the template's resources) lives as
    # long as the process: out of the cyclic collector's sight, its full collections stop walking it (they were
    # about 5 % of a command's CPU under one client).
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(runtime.banner(), flush=True)
    while not stop_requested.wait(0.2):
        pass
    runtime.stop()
    print("Stopped.", flush=True)
    return 0


def add_invoke_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "invoke", help="run one function's real handler on an event, like `sam local invoke` (no Docker)",
        description="Run FUNCTION's handler in this process on the event, against a fresh ephemeral local stack "
                    "(default: nothing is saved) or, with --running, against the `chronicle local` at --url. "
                    "Logs go to stderr, the result to stdout; exit code 1 when the function failed.")
    p.add_argument("function", metavar="FUNCTION",
                   help="logical id (ValidateCommandFunction) or code folder (validate_command)")
    p.add_argument("-e", "--event", default=None, metavar="FILE",
                   help="event JSON file, e.g. events/validate_command/create-project.json; '-' reads stdin "
                        "(default: {})")
    p.add_argument("--running", action="store_true",
                   help="use the running `chronicle local` (its saved state keeps what the handler writes)")
    p.add_argument("--url", default="http://127.0.0.1:3000", help="the running stack (default http://127.0.0.1:3000)")
    p.add_argument("--env-vars", default=None, metavar="FILE",
                   help='SAM\'s JSON: {"FunctionLogicalId": {"VAR": "value"}, "Parameters": {"VAR": "value"}}')
    p.add_argument("--parameter-overrides", default=None, metavar="'Key=Value ...'",
                   help="stack parameters of the fresh stack (e.g. 'AdminActorIds=alice RetentionDays=30')")
    p.add_argument("--debug-port", type=int, default=None, metavar="N",
                   help="wait for a debugger on 127.0.0.1:N before the handler runs (debugpy when installed, "
                        "else pdb: attach with `nc 127.0.0.1 N`)")
    p.add_argument("--project-dir", default=None, help="directory holding template.yaml (default: found upwards)")
    p.set_defaults(func=run_invoke)


def run_invoke(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from chronicle.local.invoke import Options, run

    options = Options(args.env_vars, args.parameter_overrides, args.debug_port)
    return run(args.function, args.event, args.running, args.url, args.project_dir, options)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chronicle")
    except PackageNotFoundError:
        return "(not installed: run from src/)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chronicle", description="Chronicle developer tools.")
    parser.add_argument("--version", action="version", version=f"chronicle {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    subparsers.required = True
    add_local_parser(subparsers)
    add_invoke_parser(subparsers)
    add_schemas_parser(subparsers)
    add_projections_parser(subparsers)
    add_verify_parser(subparsers)
    add_archive_parser(subparsers)
    add_cost_parser(subparsers)
    add_token_parser(subparsers)
    add_state_parser(subparsers)
    add_executions_parser(subparsers)
    return parser


def _quiet_handlers() -> None:
    """`chronicle cost` runs the handlers for their AWS requests: their log lines and EMF metrics would drown the
    table (the meter sizes the workflows' logs itself)."""
    import os
    import warnings

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "cost":
        _quiet_handlers()
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
