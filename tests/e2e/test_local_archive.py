"""`chronicle archive run` and `chronicle verify` against the local runtime: the real
statemachine/ArchiveEvents.asl.json (STANDARD, Map, Choice loops) runs in the emulator with the real handler, and
the GraphQL answers are the same before and after."""

from __future__ import annotations

import boto3
import pytest
from local_helpers import graphql, http

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


def test_archived_events_survive_a_restart_of_the_local_runtime(tmp_path, capsys):
    """The saved state restores the catalog and the objects (with new S3 version ids): reads still complete."""
    from local_helpers import ROOT

    from chronicle.local.runtime import LocalRuntime

    first = LocalRuntime(root=ROOT, port=0, state_dir=tmp_path).start()
    try:
        status, body = http("POST", f"{first.url}/commands/CreateProject", {"data": {"name": "Kept", "ownerId": "o"}})
        project_id = body["aggregateId"]
        for i in range(50):
            status, body = http("POST", f"{first.url}/commands/ChangeProjectConfiguration",
                                {"aggregateId": project_id, "data": {"set": {"k": i}}})
            assert status == 200, body
        before = graphql(first.url, HISTORY, id=project_id)["history"]
        assert main(["archive", "run", "--older-than", "0", "--endpoint-url", first.aws_endpoint]) == 0
        assert "archived 50 events" in capsys.readouterr().out
    finally:
        first.stop()
    second = LocalRuntime(root=ROOT, port=0, state_dir=tmp_path).start()
    try:
        assert graphql(second.url, HISTORY, id=project_id)["history"] == before
        assert main(["verify", project_id, "--endpoint-url", second.aws_endpoint]) == 0
        assert "(50 archive, 1 table)" in capsys.readouterr().out
    finally:
        second.stop()
