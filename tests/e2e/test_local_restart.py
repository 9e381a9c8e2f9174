"""`chronicle local` as a user runs it (a subprocess, stopped with Ctrl-C): state survives a restart unless
--ephemeral."""

from __future__ import annotations

import json

import pytest
from local_helpers import graphql, http

pytestmark = pytest.mark.e2e

QUERY = "query($id: ID!) { project(id: $id) { id name version } }"


def test_restart_keeps_state_and_ephemeral_keeps_nothing(cli_runtime, tmp_path):
    state = tmp_path / "state"
    first = cli_runtime(state)
    banner = "".join(first.output)
    assert f"{first.url}/graphql" in banner and "curl -s -X POST" in banner and str(state) in banner
    status, body = http("POST", f"{first.url}/commands/CreateProject",
                        {"data": {"name": "Kept", "ownerId": "alice"}}, {"X-Actor-Id": "alice"})
    assert status == 200, body
    project_id = body["aggregateId"]
    out = first.stop()
    assert "Stopped." in out
    saved = json.loads((state / "snapshot.json").read_text())
    assert [i["aggregateId"]["S"] for i in saved["tables"]["chronicle-EventStoreTable"]] == [project_id]

    second = cli_runtime(state)
    assert graphql(second.url, QUERY, id=project_id)["project"] == {"id": project_id, "name": "Kept", "version": 1}
    status, body = http("POST", f"{second.url}/commands/CreateProject",
                        {"aggregateId": project_id, "data": {"name": "Again", "ownerId": "alice"}})
    assert (status, body["error"]) == (409, "AggregateAlreadyExists")  # the event store came back too
    second.stop()

    before = {p: p.read_bytes() for p in state.rglob("*") if p.is_file()}
    third = cli_runtime(state, ephemeral=True)
    assert graphql(third.url, QUERY, id=project_id)["project"] is None
    status, _ = http("POST", f"{third.url}/commands/CreateProject", {"data": {"name": "Gone", "ownerId": "bob"}})
    assert status == 200
    third.stop()
    assert {p: p.read_bytes() for p in state.rglob("*") if p.is_file()} == before  # the ephemeral run wrote nothing
