"""Boto3 clients and table names from the environment (template.yaml Globals), built once per process so a
Lambda pays for them at cold start only."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode: throttles and 5xx are retried with backoff inside the SDK, before the ASL's own Retry.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def env(name: str) -> str:
    try:
        return os.environ[name]
    except KeyError:
        raise RuntimeError(f"environment variable {name} is not set (see template.yaml Globals)") from None


@cache
def event_store():
    from chronicle.eventstore import EventStore

    return EventStore(env("EVENT_TABLE"), os.environ.get("COMMAND_TABLE"), client=client("dynamodb"),
                      archive=archive_reader())


@cache
def archive_reader():
    """Read-through of archived ranges (template Globals ARCHIVE_BUCKET, ARCHIVE_CATALOG_TABLE), or None."""
    from chronicle.eventstore.archive import ArchiveReader

    bucket, catalog = os.environ.get("ARCHIVE_BUCKET"), os.environ.get("ARCHIVE_CATALOG_TABLE")
    if not bucket or not catalog:
        return None
    return ArchiveReader(bucket, catalog, client("s3"), client("dynamodb"))


@cache
def aggregate_loader():
    from chronicle.eventstore.snapshots import AggregateLoader

    return AggregateLoader(event_store(), os.environ.get("SNAPSHOT_TABLE"))


@cache
def vault():
    """Personal data keys and email reservations (chronicle.personal), one per process so its key cache is shared."""
    from chronicle.personal import Vault

    return Vault(client("dynamodb"), client("kms"), env("KEYS_TABLE"), env("PERSONAL_DATA_KEY_ID"),
                 env("EMAIL_MAC_KEY_ID"))


@cache
def template_bodies():
    """The template body bucket (TEMPLATE_BUCKET), or None in a process whose stack has none."""
    from chronicle.template_bodies import TemplateBodies

    bucket = os.environ.get("TEMPLATE_BUCKET")
    return TemplateBodies(bucket, client("s3")) if bucket else None
