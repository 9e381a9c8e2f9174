"""`chronicle archive run` and `chronicle verify` against the local runtime: the real
statemachine/ArchiveEvents.asl.json (STANDARD, Map, Choice loops) runs in the emulator with the real handler, and
the GraphQL answers are the same before and after."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest
from local_helpers import ROOT, graphql, http

from chronicle.cli import main

pytestmark = pytest.mark.e2e

HISTORY = "query($id: ID!) { history(aggregateId: $id) { eventSequence eventType data hash canonical } }"
AT = "query($id: ID!, $v: Int) { projectAt(id: $id, version: $v) { version configuration } }"


def test_archive_run_then_verify_over_the_local_runtime(runtime, capsys):
    status, body = http("POST", f"{runtime.url}/commands/CreateProject", {"data": {"name": "Old", "ownerId": "o"}})
    assert status == 200, body
    project_id = body["aggregateId"]
    for i in range(54):  # the 50th event writes a snapshot
        status, body = http("POST", f"{runtime.url}/commands/ChangeProjectConfiguration",
                            {"aggregateId": project_id, "data": {"set": {f"k{i % 5}": i}}})
        assert status == 200, body
    before = graphql(runtime.url, HISTORY, id=project_id)["history"]
    at = {v: graphql(runtime.url, AT, id=project_id, v=v)["projectAt"] for v in (1, 25, 50, 55)}

    assert main(["archive", "run", "--endpoint-url", runtime.aws_endpoint]) == 0
    assert "archived 0 events" in capsys.readouterr().out  # nothing is a year old
    assert main(["archive", "run", "--older-than", "0", "--endpoint-url", runtime.aws_endpoint]) == 0
    out = capsys.readouterr().out
    assert "archived 50 events of 1 streams" in out, out  # 1..50: up to the snapshot, never the newest

    dynamodb = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")
    left = dynamodb.query(TableName=runtime.stack.tables["EventStoreTable"], KeyConditionExpression="aggregateId = :i",
                          ExpressionAttributeValues={":i": {"S": project_id}})["Items"]
    assert sorted(int(i["eventSequence"]["N"]) for i in left) == list(range(51, 56))
    assert graphql(runtime.url, HISTORY, id=project_id)["history"] == before
    assert {v: graphql(runtime.url, AT, id=project_id, v=v)["projectAt"] for v in (1, 25, 50, 55)} == at
    status, body = http("POST", f"{runtime.url}/commands/ChangeProjectConfiguration",
                        {"aggregateId": project_id, "data": {"set": {"after": True}}})
    assert status == 200 and body["version"] == 56, body

    assert main(["verify", project_id, "--endpoint-url", runtime.aws_endpoint]) == 0
    out = capsys.readouterr().out
    assert f"ok    {project_id}: 56 events (50 archive, 6 table)" in out, out
    dynamodb.put_item(TableName=runtime.stack.tables["EventStoreTable"],
                      Item={**left[2], "eventData": {"S": '{"set":{"forged":1},"unset":[]}'}})
    assert main(["verify", "--all", "--endpoint-url", runtime.aws_endpoint]) == 1
    assert f"FAIL  {project_id}: event 53" in capsys.readouterr().out
    # put it back: the runtime is shared, and a forged event is refused by every later read of the stream
    dynamodb.put_item(TableName=runtime.stack.tables["EventStoreTable"], Item=left[2])
    assert main(["verify", project_id, "--endpoint-url", runtime.aws_endpoint]) == 0


def _cli(*args: str) -> subprocess.CompletedProcess:
    """`chronicle ...` in a subprocess: the in-process session runtime's moto must not answer for another one."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run([sys.executable, "-m", "chronicle.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_archived_events_survive_a_restart_of_the_local_runtime(cli_runtime, tmp_path, monkeypatch):
    """The saved state restores the catalog and the objects with the S3 version ids the catalog pinned (issue 20
    item 16): reads still complete, from the pinned version, not a fallback to the current object."""
    # 51 commands log more than a pipe holds, and CliRuntime stops reading its output after the banner
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    first = cli_runtime(tmp_path / "state")
    status, body = http("POST", f"{first.url}/commands/CreateProject", {"data": {"name": "Kept", "ownerId": "o"}})
    project_id = body["aggregateId"]
    for i in range(50):
        status, body = http("POST", f"{first.url}/commands/ChangeProjectConfiguration",
                            {"aggregateId": project_id, "data": {"set": {"k": i}}})
        assert status == 200, body
    before = graphql(first.url, HISTORY, id=project_id)["history"]
    done = _cli("archive", "run", "--older-than", "0", "--endpoint-url", f"http://127.0.0.1:{first.aws_port}")
    assert done.returncode == 0 and "archived 50 events" in done.stdout, done.stdout + done.stderr
    first.stop()

    second = cli_runtime(tmp_path / "state")
    assert graphql(second.url, HISTORY, id=project_id)["history"] == before
    endpoint = f"http://127.0.0.1:{second.aws_port}"
    [entry] = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1").scan(
        TableName="chronicle-ArchiveCatalogTable")["Items"]
    pinned = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").get_object(
        Bucket="chronicle-archivebucket", Key=entry["key"]["S"], VersionId=entry["versionId"]["S"])
    assert pinned["VersionId"] == entry["versionId"]["S"]
    done = _cli("verify", project_id, "--endpoint-url", f"http://127.0.0.1:{second.aws_port}")
    assert done.returncode == 0 and "(50 archive, 1 table)" in done.stdout, done.stdout + done.stderr
    second.stop()


def test_a_stream_that_fails_to_archive_fails_the_run_and_spares_the_others(runtime, capsys, monkeypatch):
    """The ASL's Catch path: ArchiveRange fails for one stream -> StreamFailed, the Map goes on, Tally counts it,
    the execution ends in ArchiveIncomplete (so the failure is seen); the other stream is archived, the failed one
    keeps every event in the table, and both still read the same."""
    from chronicle.eventstore.archiver import Archiver

    streams = []
    for name in ("Good", "Bad"):
        status, body = http("POST", f"{runtime.url}/commands/CreateProject", {"data": {"name": name, "ownerId": "o"}})
        assert status == 200, body
        streams.append(body["aggregateId"])
        for i in range(54):
            status, answer = http("POST", f"{runtime.url}/commands/ChangeProjectConfiguration",
                                  {"aggregateId": body["aggregateId"], "data": {"set": {"k": i}}})
            assert status == 200, answer
    good, bad = streams
    before = {s: graphql(runtime.url, HISTORY, id=s)["history"] for s in streams}
    original = Archiver.archive_stream

    def archive_stream(self, aggregate_id, cutoff):
        if aggregate_id == bad:
            raise RuntimeError("injected: the archive bucket refused the object")
        return original(self, aggregate_id, cutoff)

    monkeypatch.setattr(Archiver, "archive_stream", archive_stream)
    assert main(["archive", "run", "--older-than", "0", "--endpoint-url", runtime.aws_endpoint]) == 1
    assert "FAILED: ArchiveIncomplete" in capsys.readouterr().err

    dynamodb = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")

    def in_table(stream_id):
        items = dynamodb.query(TableName=runtime.stack.tables["EventStoreTable"], ConsistentRead=True,
                               KeyConditionExpression="aggregateId = :i",
                               ExpressionAttributeValues={":i": {"S": stream_id}})["Items"]
        return sorted(int(i["eventSequence"]["N"]) for i in items)

    assert in_table(good) == list(range(51, 56))  # archived up to its snapshot
    assert in_table(bad) == list(range(1, 56))  # untouched
    assert {s: graphql(runtime.url, HISTORY, id=s)["history"] for s in streams} == before
