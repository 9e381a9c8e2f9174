"""`chronicle verify` and `chronicle archive run` (docs/operations.md: Retention, Verifying).

    chronicle verify [AGGREGATE_ID | --all | --anchor | --anchor-check FILE] [--json] [--key-file F]
                     [--endpoint-url URL] [--region R] [names ...]
    chronicle archive run [--older-than DAYS] [--state-machine-arn ARN] [--endpoint-url URL] [--region R]

Names default to the environment (EVENT_TABLE, SNAPSHOT_TABLE, ARCHIVE_BUCKET, ARCHIVE_CATALOG_TABLE: take them from the stack
outputs in AWS); with --endpoint-url (the `chronicle local` banner's AWS endpoint) and no names, the local
runtime's resource names are used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from typing import Any

LOCAL_STACK = "chronicle"  # chronicle.local.stack.STACK_NAME; not imported: chronicle.local is not shipped


def local_name(logical_id: str, lower: bool = False) -> str:
    name = f"{LOCAL_STACK}-{logical_id}"
    return name.lower() if lower else name


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint-url", default=None, help="AWS endpoint (the local runtime's AWS endpoint)")
    parser.add_argument("--region", default=None, help="AWS region (default: your AWS configuration)")


def _session(args: argparse.Namespace):
    """A client factory; with --endpoint-url (an emulator, which takes any region and key) no AWS configuration is
    needed, as for `chronicle projections rebuild`."""
    import boto3

    session = boto3.session.Session(region_name=args.region)
    local: dict[str, str] = {}
    if args.endpoint_url:
        local["region_name"] = session.region_name or "us-east-1"
        if session.get_credentials() is None:
            local.update(aws_access_key_id="local", aws_secret_access_key="local")
    return lambda service: session.client(service, endpoint_url=args.endpoint_url, **local)


# ---- chronicle verify -------------------------------------------------------------------------------------
def add_verify_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "verify", help="re-compute hash chains (through archived ranges) and name the first event that fails",
        description="Exit 0 when every chain verifies, 1 when one fails (the first failing event is named), "
                    "2 on a usage error.")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("aggregate_id", nargs="?", metavar="AGGREGATE_ID", help="one stream")
    target.add_argument("--all", action="store_true", help="every stream (a Scan of the event table)")
    target.add_argument("--anchor", action="store_true",
                        help="verify every stream, then print an anchor (every head, HMAC-signed) to keep elsewhere")
    target.add_argument("--anchor-check", metavar="FILE", default=None,
                        help="verify every stream against an anchor printed by --anchor")
    p.add_argument("--key-file", default=None,
                   help="the anchor key (default $CHRONICLE_ANCHOR_KEY, else ~/.config/chronicle/anchor.key; "
                        "--anchor creates it)")
    p.add_argument("--event-table", default=None, help="default $EVENT_TABLE")
    p.add_argument("--snapshot-table", default=None, help="default $SNAPSHOT_TABLE (head records and snapshots)")
    p.add_argument("--archive-bucket", default=None, help="default $ARCHIVE_BUCKET")
    p.add_argument("--catalog-table", default=None, help="default $ARCHIVE_CATALOG_TABLE")
    p.add_argument("--json", action="store_true", help="one JSON report per stream")
    _common(p)
    p.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from chronicle.eventstore import EventStore
    from chronicle.eventstore import anchor as anchors
    from chronicle.eventstore.archive import ArchiveReader
    from chronicle.eventstore.verify import verify_all, verify_stream

    try:
        key, anchored = _anchor_input(args, anchors)
    except (anchors.AnchorInvalid, OSError, ValueError) as error:
        print(f"chronicle verify: {error}", file=sys.stderr)
        return 1 if isinstance(error, anchors.AnchorInvalid) else 2
    event_table, snapshots, bucket, catalog = _names(args)
    if not event_table:
        print("chronicle verify: give --event-table (or set EVENT_TABLE, or --endpoint-url for the local runtime)",
              file=sys.stderr)
        return 2
    client = _session(args)
    dynamodb = client("dynamodb")
    archive = ArchiveReader(bucket, catalog, client("s3"), dynamodb) if bucket and catalog else None
    store = EventStore(event_table, client=dynamodb, archive=archive)
    try:
        if args.aggregate_id:
            reports = [verify_stream(store, args.aggregate_id, snapshots)]
        else:
            reports = verify_all(store, snapshots, anchored)
    except (BotoCoreError, ClientError) as error:
        print(f"chronicle verify: {error}", file=sys.stderr)
        return 1
    if args.anchor:
        return _print_anchor(reports, key, anchors)
    return print_reports(args, reports)


def print_reports(args: argparse.Namespace, reports: list[Any]) -> int:
    """Print the reports; a reader that stops early (`chronicle verify --all --json | head`) is no error."""
    try:
        _print_reports(args, reports)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush does not raise again
    return 1 if any(not r.ok for r in reports) else 0


def _names(args: argparse.Namespace) -> tuple[str | None, ...]:
    """The event table, snapshot table, archive bucket and catalog: given, from the environment, or the local
    runtime's (with --endpoint-url)."""
    local = bool(args.endpoint_url)

    def name(given: str | None, variable: str, logical_id: str, lower: bool = False) -> str | None:
        return given or os.environ.get(variable) or (local_name(logical_id, lower) if local else None)

    return (name(args.event_table, "EVENT_TABLE", "EventStoreTable"),
            name(args.snapshot_table, "SNAPSHOT_TABLE", "SnapshotTable"),
            name(args.archive_bucket, "ARCHIVE_BUCKET", "ArchiveBucket", True),
            name(args.catalog_table, "ARCHIVE_CATALOG_TABLE", "ArchiveCatalogTable"))


def _anchor_input(args: argparse.Namespace, anchors: Any) -> tuple[bytes | None, dict[str, Any] | None]:
    """The key (for --anchor and --anchor-check) and the anchored streams (--anchor-check)."""
    if not (args.anchor or args.anchor_check):
        return None, None
    from pathlib import Path

    key = anchors.load_key(Path(args.key_file) if args.key_file else anchors.default_key_file(),
                           create=bool(args.anchor))
    if args.anchor:
        return key, None
    try:
        document = json.loads(Path(args.anchor_check).read_text())
    except json.JSONDecodeError:
        raise anchors.AnchorInvalid(f"{args.anchor_check} is not JSON") from None
    return key, anchors.check(document, key)


def _print_anchor(reports: list[Any], key: bytes | None, anchors: Any) -> int:
    failed = [r for r in reports if not r.ok]
    for report in failed:
        print(f"FAIL  {report.aggregate_id}: event {report.failure['eventSequence']}: {report.failure['reason']}",
              file=sys.stderr)
    if failed:
        print(f"chronicle verify: no anchor: {len(failed)} of {len(reports)} streams fail", file=sys.stderr)
        return 1
    document = anchors.make(reports, key)
    print(json.dumps(document, sort_keys=True))
    print(f"anchor of {len(document['streams'])} streams, digest {document['digest']}, key {document['keyId']}",
          file=sys.stderr)
    return 0


def _print_reports(args: argparse.Namespace, reports: list[Any]) -> None:
    for report in reports:
        if args.json:
            print(json.dumps(report.as_dict()))
        elif report.ok:
            unsealed = f"; unsealed before sequence {report.unsealed_before}" if report.unsealed_before else ""
            print(f"ok    {report.aggregate_id}: {report.events} events "
                  f"({', '.join(f'{n} {where}' for where, n in sorted(report.sources.items()))}), "
                  f"head {report.head} {(report.head_hash or 'unsealed')[:16]}{unsealed}")
        else:
            f = report.failure
            where = f" [{f['source']}{' ' + f['object'] if f.get('object') else ''}]" if f.get("source") else ""
            print(f"FAIL  {report.aggregate_id}: event {f['eventSequence']}: {f['reason']}{where}")
        if report.ok and report.notes and not args.json:
            print("".join(f"      note: {note}\n" for note in report.notes), end="")
    failed = sum(not r.ok for r in reports)
    if (len(reports) > 1 or args.anchor_check) and not args.json:
        print(f"{len(reports)} streams, {failed} failed" + (f" (against {args.anchor_check})"
                                                             if args.anchor_check else ""))


# ---- chronicle archive run --------------------------------------------------------------------------------
def add_archive_parser(subparsers: Any) -> None:
    archive = subparsers.add_parser("archive", help="move old events to the S3 archive (the archive workflow)")
    sub = archive.add_subparsers(dest="archive_command", metavar="<archive command>")
    sub.required = True
    run = sub.add_parser(
        "run", help="start the ArchiveEvents state machine and wait for it",
        description="Archive events older than DAYS whose stream has a newer snapshot (0: everything eligible; "
                    "default: the RetentionDays stack parameter). Safe to interrupt and to run again.")
    run.add_argument("--older-than", type=float, default=None, metavar="DAYS")
    run.add_argument("--state-machine-arn", default=os.environ.get("ARCHIVE_STATE_MACHINE_ARN"),
                     help="default $ARCHIVE_STATE_MACHINE_ARN, else the state machine named *-ArchiveEvents")
    run.add_argument("--timeout", type=float, default=3600, help="seconds to wait (default 3600)")
    _common(run)
    run.set_defaults(func=run_archive)


def run_archive(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    if args.older_than is not None and args.older_than < 0:
        print("chronicle archive run: --older-than must be 0 or more", file=sys.stderr)
        return 2
    sfn = _session(args)("stepfunctions")
    try:
        arn = args.state_machine_arn or _find_state_machine(sfn)
        if not arn:
            print("chronicle archive run: no state machine named *-ArchiveEvents; give --state-machine-arn",
                  file=sys.stderr)
            return 2
        payload = {} if args.older_than is None else {"olderThanDays": args.older_than}
        name = f"cli-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"  # the emulator needs a name
        execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))["executionArn"]
        deadline = time.monotonic() + args.timeout
        while True:
            described = sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    except (BotoCoreError, ClientError) as error:
        print(f"chronicle archive run: {error}", file=sys.stderr)
        return 1
    status = described["status"]
    if status == "SUCCEEDED":
        totals = json.loads(described.get("output") or "{}").get("totals", {})
        cutoff = json.loads(described["output"]).get("cutoff")
        print(f"archived {totals.get('events', 0)} events of {totals.get('streams', 0)} streams "
              f"(cutoff {cutoff}); execution {execution}")
        if not totals.get("events"):
            print(why_nothing_archived(totals, cutoff))
        return 0
    print(f"chronicle archive run: execution {execution} is {status}: {described.get('error', '')} "
          f"{described.get('cause', '')}".rstrip(), file=sys.stderr)
    return 1


def why_nothing_archived(totals: dict[str, Any], cutoff: str | None) -> str:
    """Why a run moved nothing: what makes an event eligible (docs/operations.md, Archiving)."""
    from chronicle.domain import AGGREGATES

    every = sorted({a.snapshot_every for a in AGGREGATES.values()})
    failed = totals.get("failed") or []
    lines = [f"why 0: an event moves only when it is older than the cutoff ({cutoff}), its stream has a current "
             f"snapshot covering it (a stream gets one every {'/'.join(map(str, every))} events), and it is not "
             "the stream's newest event."]
    lines.append(f"  {totals.get('streams', 0)} streams had a snapshot to look at"
                 + ("; none does yet: no stream has reached that many events" if not totals.get("streams") else
                    "; their events are newer than the cutoff or not covered by the snapshot yet"
                    " (--older-than 0 takes everything up to now)"))
    if failed:
        lines.append(f"  {len(failed)} streams failed: {', '.join(f.get('aggregateId', '?') for f in failed[:5])}")
    return "\n".join(lines)


def _find_state_machine(sfn: Any) -> str | None:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"].endswith("-ArchiveEvents"):
                return machine["stateMachineArn"]
    return None
