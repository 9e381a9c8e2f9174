"""`chronicle projections rebuild`: fold the event store into the read models again (docs/operations.md).

    chronicle projections rebuild [--read-model projects|templates|template-usage|users ...]
        [--event-table T] [--read-model-table T] [--template-table T] [--usage-table T] [--user-table T]
        [--endpoint-url URL] [--region R] [--id ID ...]

Without --read-model, every read model whose table is known is rebuilt. The options come from
chronicle.projections.registry; table names default to $EVENT_TABLE and each model's variable ($PROJECT_TABLE,
$TEMPLATE_TABLE, $USAGE_TABLE, $USER_TABLE); in AWS take them from the stack outputs, locally from the
`chronicle local` banner; with --endpoint-url (the local runtime) every name defaults to the local stack's. --id names
streams of the selected models
(project ids for projects and template-usage, template ids for templates).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from chronicle.eventstore.cli import local_name
from chronicle.projections.registry import READ_MODELS, ReadModel


def _dest(model: ReadModel) -> str:
    return model.option.replace("-", "_")


# With --endpoint-url the local stack's fixed names are the defaults: locally nobody needs to look a table name up.
LOCAL_NAMES = {"event_table": "EventStoreTable", "archive_bucket": "ArchiveBucket", "catalog_table": "ArchiveCatalogTable"}


def local_defaults(args: argparse.Namespace) -> None:
    """With --endpoint-url (chronicle local), fill the names not given: the event store, the archive, and the
    selected read models' tables (every read model when none is selected or named)."""
    if not args.endpoint_url:
        return
    named = [name for name, model in READ_MODELS.items() if getattr(args, _dest(model))]
    selected = args.read_models or ([] if named else list(READ_MODELS))
    for option, logical_id in LOCAL_NAMES.items():
        if not getattr(args, option):
            setattr(args, option, local_name(logical_id, lower=option == "archive_bucket"))
    for model in (READ_MODELS[name] for name in selected):
        if not getattr(args, _dest(model)):
            setattr(args, _dest(model), local_name(model.table_resource))


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
    for model in READ_MODELS.values():  # one table option per registered read model
        rebuild.add_argument(f"--{model.option}", dest=_dest(model), default=os.environ.get(model.table_env),
                             help=f"the {model.name} read model table (default ${model.table_env})")
    rebuild.add_argument("--archive-bucket", default=os.environ.get("ARCHIVE_BUCKET"),
                         help="read archived events through this bucket (default $ARCHIVE_BUCKET)")
    rebuild.add_argument("--catalog-table", default=os.environ.get("ARCHIVE_CATALOG_TABLE"),
                         help="the archive catalog table (default $ARCHIVE_CATALOG_TABLE)")
    rebuild.add_argument("--endpoint-url", default=None, help="DynamoDB endpoint (the local runtime's AWS endpoint)")
    rebuild.add_argument("--region", default=None, help="AWS region (default: your AWS configuration; with "
                                                        "--endpoint-url and none configured, us-east-1)")
    rebuild.add_argument("--id", dest="ids", action="append", help="only this stream (repeatable)")
    rebuild.set_defaults(func=run_rebuild)


def _wanted(args: argparse.Namespace) -> list[ReadModel] | None:
    """The models to rebuild, or None (after saying why) when a table is not known."""
    names = args.read_models or [name for name, model in READ_MODELS.items() if getattr(args, _dest(model))]
    unknown = [READ_MODELS[name] for name in names if not getattr(args, _dest(READ_MODELS[name]))]
    if args.event_table and names and not unknown:
        return [READ_MODELS[name] for name in names]
    missing = ", ".join(f"--{m.option} for {m.name}" for m in unknown) or \
        "--read-model-table (or set EVENT_TABLE and PROJECT_TABLE)"
    print(f"chronicle projections rebuild: give --event-table and {missing}", file=sys.stderr)
    return None


def _store(args: argparse.Namespace) -> Any:
    """The event store the arguments name (archived streams read through S3 when bucket and catalog are given)."""
    import boto3

    from chronicle.eventstore import EventStore
    from chronicle.eventstore.archive import ArchiveReader

    session = boto3.session.Session(region_name=args.region)
    local: dict[str, str] = {}
    if args.endpoint_url:  # an emulator (chronicle local) takes any region and any key: need no AWS configuration
        local["region_name"] = session.region_name or "us-east-1"
        if session.get_credentials() is None:
            local.update(aws_access_key_id="local", aws_secret_access_key="local")
    client = session.client("dynamodb", endpoint_url=args.endpoint_url, **local)
    archive = None
    if args.archive_bucket and args.catalog_table:
        archive = ArchiveReader(args.archive_bucket, args.catalog_table,
                                session.client("s3", endpoint_url=args.endpoint_url, **local), client)
    if archive is None and not args.ids:
        print("note: no --archive-bucket/--catalog-table (or $ARCHIVE_BUCKET/$ARCHIVE_CATALOG_TABLE): streams whose "
              "first events are archived are not seen; give both to read them through the archive",
              file=sys.stderr)
    return EventStore(args.event_table, client=client, archive=archive)


def _report(model: ReadModel, report: Any) -> None:
    print(f"rebuilt {len(report.rebuilt)} {model.counted}; {len(report.newer_kept)} already newer, left as they were"
          + (f"; no stream for: {', '.join(report.missing)}" if report.missing else ""))


def run_rebuild(args: argparse.Namespace) -> int:
    local_defaults(args)
    models = _wanted(args)
    if models is None:
        return 2
    from botocore.exceptions import BotoCoreError, ClientError

    from chronicle.eventstore.chain import ChainBroken
    from chronicle.eventstore.store import StreamIncomplete

    try:
        store = _store(args)
    except (BotoCoreError, ClientError) as error:
        print(f"chronicle projections rebuild: {error}", file=sys.stderr)
        return 1
    failed = False
    for model in models:
        try:
            report = model.rebuild(store, getattr(args, _dest(model)), args.ids)
        except (BotoCoreError, ClientError) as error:
            print(f"chronicle projections rebuild {model.name}: {error}", file=sys.stderr)
            return 1
        except StreamIncomplete as error:
            print(f"chronicle projections rebuild {model.name}: {error} (archived? give --archive-bucket and "
                  "--catalog-table)", file=sys.stderr)
            return 1
        except ChainBroken as error:  # a forged event is never folded into a read model
            print(f"chronicle projections rebuild {model.name}: {error.message} (nothing after it was rebuilt)",
                  file=sys.stderr)
            return 1
        _report(model, report)
        failed = failed or bool(report.missing)
    return 1 if failed else 0
