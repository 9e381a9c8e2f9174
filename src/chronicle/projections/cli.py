"""`chronicle projections rebuild`: fold the event store into the read models again (docs/operations.md).

    chronicle projections rebuild [--read-model projects|templates|template-usage|users ...]
        [--event-table T] [--read-model-table T] [--template-table T] [--usage-table T] [--user-table T]
        [--endpoint-url URL] [--region R] [--id ID ...]

Without --read-model, every read model whose table is known is rebuilt. Table names default to $EVENT_TABLE,
$PROJECT_TABLE, $TEMPLATE_TABLE and $USAGE_TABLE; in AWS take them from the stack outputs, locally from the
`chronicle local` banner; with --endpoint-url (the local runtime) every name defaults to the local stack's. --id names streams of the selected models
(project ids for projects and template-usage, template ids for templates).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

# name -> (the option holding its table, what it counts)
READ_MODELS = {"projects": ("read_model_table", "project(s)"), "templates": ("template_table", "template(s)"),
               "template-usage": ("usage_table", "project(s)' service usage"), "users": ("user_table", "user(s)")}
# The local stack's fixed names (chronicle.local.stack: "chronicle-<LogicalId>", buckets lower case), the defaults
# with --endpoint-url: locally nobody needs to look a table name up.
LOCAL_NAMES = {"event_table": "chronicle-EventStoreTable", "read_model_table": "chronicle-ProjectReadModelTable",
               "template_table": "chronicle-TemplateReadModelTable",
               "usage_table": "chronicle-ServiceUsageReadModelTable", "user_table": "chronicle-UserReadModelTable",
               "archive_bucket": "chronicle-archivebucket", "catalog_table": "chronicle-ArchiveCatalogTable"}


def local_defaults(args: argparse.Namespace) -> None:
    """With --endpoint-url (chronicle local), fill the names not given: the event store, the archive, and the
    selected read models' tables (every read model when none is selected or named)."""
    if not args.endpoint_url:
        return
    named = [name for name, (option, _) in READ_MODELS.items() if getattr(args, option)]
    selected = args.read_models or ([] if named else list(READ_MODELS))
    for option in ("event_table", "archive_bucket", "catalog_table",
                   *(READ_MODELS[name][0] for name in selected)):
        if not getattr(args, option):
            setattr(args, option, LOCAL_NAMES[option])


def add_projections_parser(subparsers: Any) -> None:
    projections = subparsers.add_parser("projections", help="maintain read models (rebuild from the event store)")
    sub = projections.add_subparsers(dest="projections_command", metavar="<projections command>")
    sub.required = True
    rebuild = sub.add_parser("rebuild", help="fold the event store into the read models again (all, or by name)",
                             description="Never moves an item backwards; safe while projectors run; idempotent.")
    rebuild.add_argument("--read-model", dest="read_models", action="append", choices=sorted(READ_MODELS),
                         help="rebuild only this read model (repeatable; default: every one whose table is known)")
    rebuild.add_argument("--event-table", default=os.environ.get("EVENT_TABLE"),
                         help="the event store table (default $EVENT_TABLE)")
    rebuild.add_argument("--read-model-table", default=os.environ.get("PROJECT_TABLE"),
                         help="the project read model table (default $PROJECT_TABLE)")
    rebuild.add_argument("--template-table", default=os.environ.get("TEMPLATE_TABLE"),
                         help="the template read model table (default $TEMPLATE_TABLE)")
    rebuild.add_argument("--usage-table", default=os.environ.get("USAGE_TABLE"),
                         help="the template usage read model table (default $USAGE_TABLE)")
    rebuild.add_argument("--user-table", default=os.environ.get("USER_TABLE"),
                         help="the user read model table (profiles, permission matrix; default $USER_TABLE)")
    rebuild.add_argument("--archive-bucket", default=os.environ.get("ARCHIVE_BUCKET"),
                         help="read archived events through this bucket (default $ARCHIVE_BUCKET)")
    rebuild.add_argument("--catalog-table", default=os.environ.get("ARCHIVE_CATALOG_TABLE"),
                         help="the archive catalog table (default $ARCHIVE_CATALOG_TABLE)")
    rebuild.add_argument("--endpoint-url", default=None, help="DynamoDB endpoint (the local runtime's AWS endpoint)")
    rebuild.add_argument("--region", default=None, help="AWS region (default: your AWS configuration; with "
                                                        "--endpoint-url and none configured, us-east-1)")
    rebuild.add_argument("--id", dest="ids", action="append", help="only this stream (repeatable)")
    rebuild.set_defaults(func=run_rebuild)


def run_rebuild(args: argparse.Namespace) -> int:
    local_defaults(args)
    wanted = args.read_models or [name for name, (option, _) in READ_MODELS.items() if getattr(args, option)]
    unknown = [name for name in wanted if not getattr(args, READ_MODELS[name][0])]
    if not args.event_table or not wanted or unknown:
        missing = ", ".join(f"--{READ_MODELS[n][0].replace('_', '-')} for {n}" for n in unknown) or \
            "--read-model-table (or set EVENT_TABLE and PROJECT_TABLE)"
        print(f"chronicle projections rebuild: give --event-table and {missing}", file=sys.stderr)
        return 2
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from chronicle.eventstore import EventStore
    from chronicle.eventstore.archive import ArchiveReader
    from chronicle.eventstore.store import StreamIncomplete
    from chronicle.projections import folded, usage
    from chronicle.projections import template as template_projection
    from chronicle.projections import user as user_projection
    from chronicle.projections.rebuild import rebuild as rebuild_projects

    session = boto3.session.Session(region_name=args.region)
    local: dict[str, str] = {}
    if args.endpoint_url:  # an emulator (chronicle local) takes any region and any key: need no AWS configuration
        local["region_name"] = session.region_name or "us-east-1"
        if session.get_credentials() is None:
            local.update(aws_access_key_id="local", aws_secret_access_key="local")
    try:
        client = session.client("dynamodb", endpoint_url=args.endpoint_url, **local)
    except (BotoCoreError, ClientError) as error:
        print(f"chronicle projections rebuild: {error}", file=sys.stderr)
        return 1
    archive = None
    if args.archive_bucket and args.catalog_table:  # archived streams are read through S3
        archive = ArchiveReader(args.archive_bucket, args.catalog_table,
                                session.client("s3", endpoint_url=args.endpoint_url, **local), client)
    store = EventStore(args.event_table, client=client, archive=archive)
    if archive is None and not args.ids:
        print("note: no --archive-bucket/--catalog-table (or $ARCHIVE_BUCKET/$ARCHIVE_CATALOG_TABLE): streams whose "
              "first events are archived are not seen; give both to read them through the archive",
              file=sys.stderr)
    runs = {"projects": lambda table: rebuild_projects(store, table, args.ids),
            "templates": lambda table: folded.rebuild(store, table, template_projection.MODEL, args.ids),
            "template-usage": lambda table: usage.rebuild(store, table, args.ids),
            "users": lambda table: folded.rebuild(store, table, user_projection.MODEL, args.ids)}
    failed = False
    for name in wanted:
        option, counted = READ_MODELS[name]
        try:
            report = runs[name](getattr(args, option))
        except (BotoCoreError, ClientError) as error:
            print(f"chronicle projections rebuild {name}: {error}", file=sys.stderr)
            return 1
        except StreamIncomplete as error:
            print(f"chronicle projections rebuild {name}: {error} (archived? give --archive-bucket and "
                  "--catalog-table)", file=sys.stderr)
            return 1
        print(f"rebuilt {len(report.rebuilt)} {counted}; {len(report.newer_kept)} already newer, left as they were"
              + (f"; no stream for: {', '.join(report.missing)}" if report.missing else ""))
        failed = failed or bool(report.missing)
    return 1 if failed else 0
