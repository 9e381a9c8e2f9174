"""`chronicle projections rebuild`: fold every project stream into the read model again (docs/operations.md).

    chronicle projections rebuild [--event-table T] [--read-model-table T] [--endpoint-url URL] [--id ID ...]

Table names default to $EVENT_TABLE / $PROJECT_TABLE; in AWS take them from the stack outputs, locally from the
`chronicle local` banner (with its AWS endpoint as --endpoint-url).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def add_projections_parser(subparsers: Any) -> None:
    projections = subparsers.add_parser("projections", help="maintain read models (rebuild from the event store)")
    sub = projections.add_subparsers(dest="projections_command", metavar="<projections command>")
    sub.required = True
    rebuild = sub.add_parser("rebuild", help="fold every project stream into the project read model again",
                             description="Never moves an item backwards; safe while projectors run; idempotent.")
    rebuild.add_argument("--event-table", default=os.environ.get("EVENT_TABLE"),
                         help="the event store table (default $EVENT_TABLE)")
    rebuild.add_argument("--read-model-table", default=os.environ.get("PROJECT_TABLE"),
                         help="the project read model table (default $PROJECT_TABLE)")
    rebuild.add_argument("--archive-bucket", default=os.environ.get("ARCHIVE_BUCKET"),
                         help="read archived events through this bucket (default $ARCHIVE_BUCKET)")
    rebuild.add_argument("--catalog-table", default=os.environ.get("ARCHIVE_CATALOG_TABLE"),
                         help="the archive catalog table (default $ARCHIVE_CATALOG_TABLE)")
    rebuild.add_argument("--endpoint-url", default=None, help="DynamoDB endpoint (the local runtime's AWS endpoint)")
    rebuild.add_argument("--region", default=None, help="AWS region (default: your AWS configuration; with "
                                                        "--endpoint-url and none configured, us-east-1)")
    rebuild.add_argument("--id", dest="ids", action="append", help="only this project (repeatable)")
    rebuild.set_defaults(func=run_rebuild)


def run_rebuild(args: argparse.Namespace) -> int:
    if not args.event_table or not args.read_model_table:
        print("chronicle projections rebuild: give --event-table and --read-model-table "
              "(or set EVENT_TABLE and PROJECT_TABLE)", file=sys.stderr)
        return 2
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from chronicle.eventstore import EventStore
    from chronicle.eventstore.archive import ArchiveReader
    from chronicle.eventstore.store import StreamIncomplete
    from chronicle.projections.rebuild import rebuild

    session = boto3.session.Session(region_name=args.region)
    local: dict[str, str] = {}
    if args.endpoint_url:  # an emulator (chronicle local) takes any region and any key: need no AWS configuration
        local["region_name"] = session.region_name or "us-east-1"
        if session.get_credentials() is None:
            local.update(aws_access_key_id="local", aws_secret_access_key="local")
    try:
        client = session.client("dynamodb", endpoint_url=args.endpoint_url, **local)
        archive = None
        if args.archive_bucket and args.catalog_table:
            s3 = session.client("s3", endpoint_url=args.endpoint_url, **local)
            archive = ArchiveReader(args.archive_bucket, args.catalog_table, s3, client)
        report = rebuild(EventStore(args.event_table, client=client, archive=archive), args.read_model_table,
                         args.ids)
    except (BotoCoreError, ClientError) as error:
        print(f"chronicle projections rebuild: {error}", file=sys.stderr)
        return 1
    except StreamIncomplete as error:
        print(f"chronicle projections rebuild: {error} (archived? give --archive-bucket and --catalog-table)",
              file=sys.stderr)
        return 1
    print(f"rebuilt {len(report.rebuilt)} project(s); {len(report.newer_kept)} already newer, left as they were"
          + (f"; no stream for: {', '.join(report.missing)}" if report.missing else ""))
    return 1 if report.missing else 0
