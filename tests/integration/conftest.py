"""Fixtures for tests against moto (in-process mock_aws): the tables the event store and read models use."""

from __future__ import annotations

import os

import boto3
import pytest
from moto import mock_aws

TABLES = {
    "EventStoreTable": ("events", [("aggregateId", "S", "HASH"), ("eventSequence", "N", "RANGE")]),
    "CommandLogTable": ("commands", [("commandId", "S", "HASH")]),
    "SnapshotTable": ("snapshots", [("aggregateId", "S", "HASH")]),
    "ProjectReadModelTable": ("projects", [("id", "S", "HASH")]),
    "PersonalDataKeysTable": ("keys", [("pk", "S", "HASH")]),
    "UserReadModelTable": ("users", [("id", "S", "HASH")]),
    "TemplateReadModelTable": ("templates", [("id", "S", "HASH")]),
    "ServiceUsageReadModelTable": ("usage", [("projectId", "S", "HASH"), ("serviceName", "S", "RANGE")]),
    "ArchiveCatalogTable": ("archive-catalog", [("aggregateId", "S", "HASH"), ("firstSequence", "N", "RANGE")]),
}
ARCHIVE_BUCKET = "chronicle-archive"
# Global secondary indexes as template.yaml declares them: table -> (index, hash, range)
INDEXES = {"projects": ("byOwner", "ownerId", "updatedAt"), "templates": ("byName", "catalog", "sortKey"),
           "usage": ("byTemplate", "templateId", "useKey")}


@pytest.fixture
def aws(monkeypatch):
    """A moto account with the Chronicle tables; environment variables as template.yaml Globals set them."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "EVENT_TABLE": "events", "COMMAND_TABLE": "commands",
                        "SNAPSHOT_TABLE": "snapshots", "PROJECT_TABLE": "projects", "EVENT_BUS": "chronicle-events",
                        "KEYS_TABLE": "keys", "USER_TABLE": "users", "ADMIN_ACTOR_IDS": "root",
                        "TEMPLATE_BUCKET": "chronicle-templates",
                        "TEMPLATE_TABLE": "templates", "USAGE_TABLE": "usage",
                        "ARCHIVE_BUCKET": ARCHIVE_BUCKET, "ARCHIVE_CATALOG_TABLE": "archive-catalog",
                        "POWERTOOLS_METRICS_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb")
        for table, keys in TABLES.values():
            extra = {}
            if table in INDEXES:
                index, hash_key, range_key = INDEXES[table]
                keys = keys + [(hash_key, "S", None), (range_key, "S", None)]
                extra["GlobalSecondaryIndexes"] = [{
                    "IndexName": index, "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"},
                                  {"AttributeName": range_key, "KeyType": "RANGE"}]}]
            client.create_table(
                TableName=table, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t, _ in keys],
                KeySchema=[{"AttributeName": n, "KeyType": k} for n, _, k in keys if k], **extra)
        boto3.client("events").create_event_bus(Name="chronicle-events")
        boto3.client("s3").create_bucket(Bucket="chronicle-templates")
        boto3.client("s3").create_bucket(Bucket=ARCHIVE_BUCKET)
        boto3.client("s3").put_bucket_versioning(Bucket=ARCHIVE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        kms = boto3.client("kms")
        monkeypatch.setenv("PERSONAL_DATA_KEY_ID", kms.create_key()["KeyMetadata"]["KeyId"])
        monkeypatch.setenv("EMAIL_MAC_KEY_ID", kms.create_key(KeySpec="HMAC_256",
                                                        KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"])
        from chronicle import aws as chronicle_aws

        caches = (chronicle_aws.client, chronicle_aws.event_store, chronicle_aws.aggregate_loader, chronicle_aws.vault,
                  chronicle_aws.template_bodies, chronicle_aws.archive_reader)
        for cached in caches:
            cached.cache_clear()
        yield client
        for cached in caches:
            cached.cache_clear()
    del os.environ["AWS_ACCESS_KEY_ID"]
