"""`chronicle local` as a user runs it (a subprocess, stopped with Ctrl-C): state survives a restart unless
--ephemeral."""

from __future__ import annotations

import json

import pytest
from local_helpers import graphql, http

from chronicle.local import snapshot as snapshots

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
    saved = snapshots.read(state / "snapshot.json").body
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


def test_personal_data_stays_readable_across_a_restart(cli_runtime, tmp_path):
    """moto makes new KMS keys on every start: the local runtime gives them back their saved id and material
    (chronicle.local.kms_keys), or every sealed email and name would be lost with a restart."""
    user_query = "query($id: ID!) { user(id: $id) { email displayName } }"
    state = tmp_path / "state"
    first = cli_runtime(state)
    status, body = http("POST", f"{first.url}/commands/RegisterUser",
                        {"data": {"email": "Kept@Example.com", "displayName": "Kept"}}, {"X-Actor-Id": "keeper"})
    assert status == 200, body
    first.stop()
    assert json.loads((state / "kms.json").read_text()).keys() == {"PersonalDataKey", "EmailMacKey"}

    second = cli_runtime(state)
    assert graphql(second.url, user_query, actor="keeper", id="keeper")["user"] == {
        "email": "kept@example.com", "displayName": "Kept"}
    status, body = http("POST", f"{second.url}/commands/RegisterUser",  # the same email MAC: still reserved
                        {"data": {"email": "kept@example.com", "displayName": "Other"}}, {"X-Actor-Id": "other"})
    assert status == 422 and body["details"][0]["rule"] == "EmailUnique", body
    second.stop()
