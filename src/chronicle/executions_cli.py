"""``chronicle executions list|show``: the command executions the running ``chronicle local`` kept.

    chronicle executions list [--command T] [--status FAILED|SUCCEEDED] [--limit N] [--json] [--url URL]
    chronicle executions show ID [--json] [--url URL]          (ID: the execution ARN or its last part)

Both read the local server's ``/console/api/executions`` routes (chronicle.local.console_api), so they see what the
console sees, including executions from before a restart. ``--actor ID`` reads as that actor (its own executions;
an --admin actor sees all); without it the local operator sees every execution.

With ``--aws`` both read a deployed stack instead: its command workflows are Express state machines, whose
executions Step Functions does not keep, so they read the workflows' CloudWatch log group (chronicle.executions_aws),
which holds what the stack parameter WorkflowLogLevel lets through (failures only at ERROR, the default).
"""

from __future__ import annotations

import argparse
import os
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


def add_executions_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("executions", help="list and show the command executions of the running local stack",
                              description="Read the executions `chronicle local` kept (newest first): each state "
                                          "with its input, output, duration, retries, and the error of a failure.")
    sub = p.add_subparsers(dest="action", metavar="<action>")
    sub.required = True
    listing = sub.add_parser("list", help="executions, newest first")
    listing.add_argument("--command", default=None, metavar="T", help="only this command type")
    listing.add_argument("--status", default=None, type=str.upper, choices=["FAILED", "SUCCEEDED", "TIMED_OUT"],
                         help="only executions that ended so")
    listing.add_argument("--limit", type=int, default=20, metavar="N", help="at most N (default 20)")
    show = sub.add_parser("show", help="one execution, state by state")
    show.add_argument("id", metavar="ID", help="the execution ARN (X-Chronicle-Execution) or its last part")
    for parser in (listing, show):
        parser.add_argument("--json", action="store_true", help="print the JSON the local server answers")
        parser.add_argument("--url", default=os.environ.get("CHRONICLE_URL") or "http://127.0.0.1:3000",
                            help="the running stack (default $CHRONICLE_URL, else http://127.0.0.1:3000)")
        parser.add_argument("--actor", default=None, metavar="ID", help="read as this actor (default: everything)")
        aws = parser.add_argument_group("a deployed stack (--aws): its workflows' CloudWatch log group")
        aws.add_argument("--aws", action="store_true", help="read the deployed stack's log group, not the local one")
        aws.add_argument("--stack", default="chronicle", help="stack name (default chronicle)")
        aws.add_argument("--log-group", default=None, help="default /aws/vendedlogs/states/<stack>-commands")
        aws.add_argument("--since", type=float, default=60.0, metavar="MINUTES", help="how far back (default 60)")
        aws.add_argument("--region", default=None)
        aws.add_argument("--endpoint-url", default=None, help="another CloudWatch Logs endpoint (tests, emulators)")
    listing.set_defaults(func=run_list)
    show.set_defaults(func=run_show)


def _get(args: argparse.Namespace, route: str, query: dict[str, Any] | None = None) -> tuple[int, Any]:
    params = {k: v for k, v in (query or {}).items() if v is not None}
    if args.actor:
        params["actor"] = args.actor
    url = f"{args.url.rstrip('/')}/console/api/{route}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - a URL the user gave
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read())
        except ValueError:
            return err.code, {"error": "HTTPError", "message": str(err)}
    except (urllib.error.URLError, OSError) as err:
        return 0, {"error": "Unreachable", "message": f"no `chronicle local` answers at {args.url} ({err})"}


def _fail(status: int, body: Any) -> int:
    message = body.get("message") if isinstance(body, dict) else body
    print(f"chronicle executions: {message} ({status or 'no answer'})", file=sys.stderr)
    return 1


def _aws(args: argparse.Namespace) -> tuple[Any, str]:
    import boto3

    from chronicle.executions_aws import log_group

    logs = boto3.client("logs", region_name=args.region, endpoint_url=args.endpoint_url)
    return logs, args.log_group or log_group(args.stack)


def _from_aws(args: argparse.Namespace, route: str) -> tuple[int, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    from chronicle import executions_aws

    try:
        logs, group = _aws(args)
        if route == "executions":
            found = executions_aws.listing(logs, group, args.since, args.command, args.status, args.limit)
            return 200, {"executions": found, "kept": len(found), "dropped": 0, "keep": args.limit}
        record = executions_aws.show(logs, group, args.since, args.id)
    except (BotoCoreError, ClientError) as error:
        return 0, {"message": f"cannot read the log group: {error}"}
    if record is None:
        return 404, {"message": f"no log events of {args.id!r} in the last {args.since:g} minutes (at "
                                "WorkflowLogLevel ERROR only failed executions are logged)"}
    return 200, record


def run_list(args: argparse.Namespace) -> int:
    query = {"command": args.command, "status": args.status, "limit": args.limit}
    status, body = _from_aws(args, "executions") if args.aws else _get(args, "executions", query)
    if status != 200:
        return _fail(status, body)
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    for e in body["executions"]:
        print(f"{e['startDate'] or '':32} {e['status']:9} {e['commandType']:28} {e.get('error') or '':24} "
              f"{e['executionArn']}")
    if args.aws:
        print(f"({len(body['executions'])} found in the log group over the last {args.since:g} minutes)")
        return 0
    dropped = f", {body['dropped']} older ones dropped" if body.get("dropped") else ""
    print(f"({len(body['executions'])} shown of {body['kept']} kept{dropped}; newest {body['keep']} are kept)")
    return 0


def run_show(args: argparse.Namespace) -> int:
    status, body = _from_aws(args, "execution") if args.aws else _get(
        args, "executions/" + urllib.parse.quote(args.id, safe=""))
    if status != 200:
        return _fail(status, body)
    if args.json:
        print(json.dumps({k: v for k, v in body.items() if k != "definition"}, indent=2))
        return 0
    print(render(body))
    return 0


def render(execution: dict[str, Any]) -> str:
    """An execution as text: a header, then each state in the order it was entered."""
    lines = [f"{execution['commandType']}  {execution['status']}  {execution.get('durationMs')} ms  "
             f"by {execution.get('actorId')}",
             f"  {execution['executionArn']}"]
    if execution.get("error"):
        lines.append(f"  error: {execution['error']}")
    for state in execution["states"]:
        retries = f", {state['retries']} retries" if state.get("retries") else ""
        lines.append(f"\n- {state['name']} ({state['type']}) {state['status']} {state.get('durationMs')} ms{retries}")
        caught = state.get("error") is not None  # its output is the error and cause again (ResultPath of a Catch)
        for key in ("input", "error", "cause") if caught else ("input", "output", "error", "cause"):
            if state.get(key) is not None:
                lines.append(f"    {key}: {_short(state[key])}")
    return "\n".join(lines)


def _short(value: Any, limit: int = 2000) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more)"
