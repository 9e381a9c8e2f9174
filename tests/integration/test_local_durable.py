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


def test_objects_keep_their_version_ids_across_restarts(tmp_path):
    """The archive catalog pins objects by S3 version id (issue 20, item 16): a restart, from the journal alone or
    from a checkpoint, restores each object with the version id it had, so a pinned read still finds it."""
    bucket = "chronicle-versioned"

    def read(rt, version_id):
        s3 = boto3.client("s3", endpoint_url=rt.aws_endpoint)
        return s3.get_object(Bucket=bucket, Key="k", VersionId=version_id)["Body"].read()

    rt = start(tmp_path)
    try:
        s3 = boto3.client("s3", endpoint_url=rt.aws_endpoint)
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        version_id = s3.put_object(Bucket=bucket, Key="k", Body=b"archived")["VersionId"]
        assert version_id and version_id != "null"
    finally:
        rt.stop(save=False)  # the journal's record alone
    for save in (True, False):  # then from the start checkpoint (and the clean stop's)
        rt = start(tmp_path)
        try:
            assert read(rt, version_id) == b"archived"
        finally:
            rt.stop(save=save)
# -- storage faults (issue 20, items 6, 7, 9) -------------------------------------------------------------------
def _journal_records(tmp_path, n):
    """A state directory whose journal holds n puts (k1..kn) after the checkpoint, as a crash leaves it."""
    rt = start(tmp_path)
    try:
        client = boto3.client("dynamodb", endpoint_url=rt.aws_endpoint)
        for i in range(1, n + 1):
            client.put_item(TableName=TABLE, Item={"id": {"S": f"k{i}"}})
    finally:
        rt.stop(save=False)
    (segment,) = (tmp_path / "journal").glob("*.log")
    data = segment.read_bytes()
    return segment, [data.find(f'"k{i}"'.encode()) for i in range(1, n + 1)]


def test_a_flipped_bit_refuses_the_start_and_repair_keeps_every_intact_record(tmp_path):
    from chronicle.local.journal import StateCorrupt
    from chronicle.local.repair import repair
    from chronicle.local.statedir import StateDir

    segment, where = _journal_records(tmp_path, 6)
    data = bytearray(segment.read_bytes())
    data[where[2] + 2] ^= 0x01  # "k3" -> "k2": still JSON, but the record's checksum fails
    segment.write_bytes(bytes(data))
    with pytest.raises(StateCorrupt) as refused:
        start(tmp_path)
    message = str(refused.value)
    assert str(segment) in message and "is damaged at byte" in message and "chronicle state repair" in message
    assert segment.read_bytes() == bytes(data)  # refused without changing anything

    state = StateDir(tmp_path).acquire()
    try:
        report = "\n".join(repair(state).lines())
    finally:
        state.release()
    assert "LOST" in report and "records" in report and '"k2"' in report  # what the damaged record (k3) said
    rt = start(tmp_path)
    try:
        assert items(rt) == ["k1", "k2", "k4", "k5", "k6"]
    finally:
        rt.stop()


def test_a_format_2_state_dir_is_migrated_to_checksummed_records(tmp_path):
    from chronicle.local.journal import encode_legacy

    (tmp_path / "format.json").write_text(json.dumps({"format": 2}))
    (tmp_path / "snapshot.json").write_text(json.dumps(
        {"format": 2, "journal": 4, "published": {}, "s3": {}, "tables": {TABLE: [{"id": {"S": "snap"}}]}}))
    (tmp_path / "journal").mkdir()
    (tmp_path / "journal" / "00000004.log").write_bytes(
        encode_legacy({"d": [[TABLE, {"id": {"S": "j"}}, {"id": {"S": "j"}}]]}) + b"\x00\x00\x01")  # + a torn tail
    rt = start(tmp_path)
    try:
        assert items(rt) == ["j", "snap"]
    finally:
        rt.stop()
    assert json.loads((tmp_path / "format.json").read_text()) == {"format": FORMAT}
    assert snapshots.read(tmp_path / "snapshot.json").format == FORMAT


def test_a_missing_checkpoint_is_refused_not_started_empty(tmp_path):
    from chronicle.local.journal import StateCorrupt

    _journal_records(tmp_path, 1)
    (tmp_path / "snapshot.json").unlink()
    with pytest.raises(StateCorrupt, match="snapshot.json is missing"):
        start(tmp_path)


def _http(method, url, headers=None, body=None):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _dynamodb_call(rt, operation, params):
    """A DynamoDB call over HTTP as an outside client makes it (this process's boto3 clients are served in-process)."""
    headers = {"content-type": "application/x-amz-json-1.0", "x-amz-target": f"DynamoDB_20120810.{operation}",
               "authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
                                "SignedHeaders=host, Signature=0"}
    status, _, body = _http("POST", rt.aws_endpoint + "/", headers, json.dumps(params).encode())
    return status, json.loads(body or b"{}")


def test_a_failed_journal_write_is_answered_507_and_nothing_unsaved_is_served(tmp_path, monkeypatch):
    import errno

    from chronicle.local.journal import Journal

    rt = start(tmp_path)
    try:
        assert _dynamodb_call(rt, "PutItem", {"TableName": TABLE, "Item": {"id": {"S": "saved"}}})[0] == 200

        def disk_full(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(Journal, "_write_all", disk_full)
        status, body = _dynamodb_call(rt, "PutItem", {"TableName": TABLE, "Item": {"id": {"S": "unsaved"}}})
        assert status == 507 and body["error"] == "InsufficientStorage" and str(tmp_path) in body["message"]
        status, body = _dynamodb_call(rt, "Scan", {"TableName": TABLE})  # "unsaved" is in memory: nobody reads it
        assert status == 507 and "Items" not in body
        status, _, raw = _http("GET", f"{rt.url}/health")
        health = json.loads(raw)
        assert status == 503 and health["status"] == "failed" and str(tmp_path) in health["reason"]
        status, _, raw = _http("POST", f"{rt.url}/graphql", {"content-type": "application/json"},
                               b'{"query": "{ __typename }"}')
        assert status == 507 and set(json.loads(raw)) == {"error", "message", "details"}
    finally:
        rt.stop()  # no checkpoint of what the journal refused
        monkeypatch.undo()
    rt = start(tmp_path)
    try:
        assert items(rt) == ["saved"]
    finally:
        rt.stop()


def test_the_aws_endpoint_refuses_cross_origin_requests_unless_allowed(tmp_path):
    rt = LocalRuntime(root=FIXTURE, port=0, ephemeral=True, cors_origins=["http://localhost:5173"]).start()
    try:
        target = {"content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.ListTables",
                  "authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
                                   "SignedHeaders=host, Signature=0"}
        preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "x-amz-target,content-type"}
        status, headers, _ = _http("OPTIONS", rt.aws_endpoint + "/", preflight)
        assert status == 403 and not {k.lower() for k in headers} & {"access-control-allow-origin"}
        status, headers, body = _http("POST", rt.aws_endpoint + "/", {**target, "Origin": "https://evil.example"},
                                      b"{}")
        assert status == 403 and b"TableNames" not in body and "--cors-origin" in json.loads(body)["message"]
        assert "access-control-allow-origin" not in {k.lower() for k in headers}
        # a form post (a "simple" request, no preflight) to SQS is refused too
        status, _, _ = _http("POST", rt.aws_endpoint + "/", {"Origin": "https://evil.example", "content-type":
                                                             "application/x-www-form-urlencoded"},
                             b"Action=ListQueues")
        assert status == 403

        allowed = {**preflight, "Origin": "http://localhost:5173"}
        status, headers, _ = _http("OPTIONS", rt.aws_endpoint + "/", allowed)
        assert status == 200 and headers.get("Access-Control-Allow-Origin") == "http://localhost:5173"
        status, _, body = _http("POST", rt.aws_endpoint + "/", {**target, "Origin": "http://localhost:5173"}, b"{}")
        assert status == 200 and b"TableNames" in body
        status, _, body = _http("POST", rt.aws_endpoint + "/", target, b"{}")  # no Origin: the CLI, boto3
        assert status == 200 and b"TableNames" in body
    finally:
        rt.stop()


def test_chronicle_local_repair_reports_then_starts(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    segment, where = _journal_records(tmp_path, 3)
    data = bytearray(segment.read_bytes())
    data[where[0] + 2] ^= 0x01
    segment.write_bytes(bytes(data))
    root = FIXTURE.parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "src"), os.environ.get("PYTHONPATH", "")]))
    for key in ("AWS_ENDPOINT_URL", "MOTO_PORT"):
        env.pop(key, None)
    proc = subprocess.Popen([sys.executable, "-m", "chronicle.cli", "local", "--repair", "--port", "0",
                             "--project-dir", str(FIXTURE), "--state-dir", str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.strip() == "Ready.":
                break
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    out = "".join(lines)
    assert "chronicle state repair: kept 2 intact journal records" in out, out
    assert f"chronicle state repair: LOST {segment} bytes" in out and "record 1\n" in out
    assert "(loaded 2 items/objects" in out and proc.returncode == 0
