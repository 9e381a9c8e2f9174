"""The local runtime end to end, over HTTP: docs/reference/errors.md and docs/reference/graphql.md and 6 against the real template, ASL and handlers."""

from __future__ import annotations

import time
import uuid

import pytest
from local_helpers import graphql, http

pytestmark = pytest.mark.e2e

CREATE = {"data": {"name": "Demo", "description": "e2e", "ownerId": "alice"}}


def create(runtime, body=None, actor="alice"):
    return http("POST", f"{runtime.url}/commands/CreateProject", body if body is not None else CREATE,
                {"X-Actor-Id": actor})


def test_health(runtime):
    status, body = http("GET", f"{runtime.url}/health")
    assert status == 200 and body["status"] == "ok"
    assert "chronicle-command-CreateProject" in body["stateMachines"]


def test_create_project_then_query_it_and_its_history(runtime):
    t0 = time.monotonic()
    status, body = create(runtime)
    elapsed = time.monotonic() - t0
    assert status == 200, body
    assert body["aggregateType"] == "Project" and body["version"] == 1
    assert [e["eventType"] for e in body["events"]] == ["ProjectCreated"]
    project_id = body["aggregateId"]

    data = graphql(runtime.url, "query($id: ID!) { project(id: $id) { id name description ownerId version } }",
                   id=project_id)
    assert data["project"] == {"id": project_id, "name": "Demo", "description": "e2e", "ownerId": "alice",
                               "version": 1}
    data = graphql(runtime.url, "query($id: ID!) { history(aggregateId: $id) { eventType eventSequence actorId "
                                "correlationId data } }", id=project_id)
    assert [(e["eventType"], e["eventSequence"]) for e in data["history"]] == [("ProjectCreated", 1)]
    assert data["history"][0]["actorId"] == "alice"
    assert data["history"][0]["correlationId"] == body["correlationId"]
    assert elapsed < 5


def test_invalid_data_is_a_400_with_json_paths(runtime):
    status, body = create(runtime, {"data": {"name": "", "ownerId": "alice"}})
    assert status == 400 and body["error"] == "ValidationError"
    assert any(d["path"] == "$.data.name" for d in body["details"]), body
    status, body = create(runtime, {"data": {"name": "x"}})
    assert status == 400 and any(d["path"] == "$.data" for d in body["details"]), body


def test_body_not_json_is_a_400(runtime):
    status, body = create(runtime, "this is not json")
    assert status == 400 and body["error"] == "ValidationError"
    assert set(body) == {"error", "message", "details"}


def test_unknown_command_is_a_404(runtime):
    status, body = http("POST", f"{runtime.url}/commands/LaunchRocket", CREATE)
    assert (status, body["error"], body["details"]) == (404, "UnknownCommand", [])


def test_same_aggregate_id_twice_is_a_409(runtime):
    aggregate_id = f"project-{uuid.uuid4()}"
    status, body = create(runtime, {**CREATE, "aggregateId": aggregate_id})
    assert status == 200, body
    assert body["aggregateId"] == aggregate_id
    status, body = create(runtime, {**CREATE, "aggregateId": aggregate_id})
    assert (status, body["error"]) == (409, "AggregateAlreadyExists"), body


def test_unknown_route_and_bad_graphql_request(runtime):
    assert http("GET", f"{runtime.url}/nope")[0] == 404
    status, body = http("POST", f"{runtime.url}/graphql", "{{{")
    assert status == 400 and body["errors"]
