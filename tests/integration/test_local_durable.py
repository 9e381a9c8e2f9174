"""The local runtime's durable state (chronicle.local.durable) on the fixture template: replay of the journal over
the last checkpoint, one record per transaction, migration of the format-1 state directory, the lock."""

from __future__ import annotations

import json

import boto3
import pytest

from chronicle.local import snapshot as snapshots
from chronicle.local.journal import read_segments
from chronicle.local.runtime import LocalRuntime
from chronicle.local.statedir import FORMAT, StateDirLocked

FIXTURE = __import__("pathlib").Path(__file__).parent / "local_fixture"
TABLE = "chronicle-ItemsTable"


def start(state_dir):
    return LocalRuntime(root=FIXTURE, port=0, state_dir=state_dir).start()


def items(rt):
    client = boto3.client("dynamodb", endpoint_url=rt.aws_endpoint)
    return sorted(i["id"]["S"] for i in client.scan(TableName=TABLE)["Items"])


def test_the_journal_is_replayed_over_the_last_checkpoint(tmp_path):
    rt = start(tmp_path)
    try:
        client = boto3.client("dynamodb", endpoint_url=rt.aws_endpoint)
        client.put_item(TableName=TABLE, Item={"id": {"S": "a"}})
        client.put_item(TableName=TABLE, Item={"id": {"S": "b"}})
        client.delete_item(TableName=TABLE, Key={"id": {"S": "a"}})
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {"id": {"S": "c"}}}},
            {"Update": {"TableName": TABLE, "Key": {"id": {"S": "b"}}, "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "7"}}}}])
        boto3.client("s3", endpoint_url=rt.aws_endpoint).put_object(Bucket="chronicle-blobs", Key="k", Body=b"v")
        records = list(read_segments(tmp_path / "journal", 0))
        transaction = [r["d"] for r in records if "d" in r and len(r["d"]) == 2]
        assert transaction == [[[TABLE, {"id": {"S": "c"}}, {"id": {"S": "c"}}],
                                [TABLE, {"id": {"S": "b"}}, {"id": {"S": "b"}, "n": {"N": "7"}}]]]
    finally:
        rt.stop(save=False)  # no final checkpoint: the next start has only the journal to go by
    snapshot = snapshots.read(tmp_path / "snapshot.json")
    assert snapshot.format == FORMAT and snapshot.body["tables"][TABLE] == []

    rt = start(tmp_path)
    try:
        assert items(rt) == ["b", "c"]
        assert rt.durable.replayed >= 5
        got = boto3.client("s3", endpoint_url=rt.aws_endpoint).get_object(Bucket="chronicle-blobs", Key="k")
        assert got["Body"].read() == b"v"
        # The start checkpoint compacted the journal: one fresh segment, the snapshot holds everything.
        assert [p.name for p in (tmp_path / "journal").iterdir()] == [f"{rt.durable.journal.number:08d}.log"]
        with pytest.raises(StateDirLocked, match="in use by another chronicle local"):
            start(tmp_path)
    finally:
        rt.stop()


def test_a_format_1_state_dir_is_migrated(tmp_path):
    (tmp_path / "dynamodb").mkdir()
    (tmp_path / "dynamodb" / f"{TABLE}.json").write_text(json.dumps({"table": TABLE, "items": [{"id": {"S": "old"}}]}))
    (tmp_path / "s3" / "chronicle-blobs").mkdir(parents=True)
    (tmp_path / "s3" / "chronicle-blobs" / "x%2Fy").write_bytes(b"kept")
    (tmp_path / "s3" / "chronicle-blobs" / "index.json").write_text(
        json.dumps({"x/y": {"file": "x%2Fy", "etag": "e", "contentType": "text/plain"}}))
    rt = start(tmp_path)
    try:
        assert items(rt) == ["old"]
        got = boto3.client("s3", endpoint_url=rt.aws_endpoint).get_object(Bucket="chronicle-blobs", Key="x/y")
        assert (got["Body"].read(), got["ContentType"]) == (b"kept", "text/plain")
        assert json.loads((tmp_path / "format.json").read_text()) == {"format": FORMAT}
        assert not (tmp_path / "dynamodb").exists() and not (tmp_path / "s3").exists()
    finally:
        rt.stop()
    rt = start(tmp_path)
    try:
        assert items(rt) == ["old"]
    finally:
        rt.stop()
