"""Nothing stored stays unpublished across a restart: on start the runtime publishes again every stream whose stored
head is ahead of what its bus delivered (a crash between append and publish, or events still in flight)."""

from __future__ import annotations

import pytest
from local_helpers import graphql, http

pytestmark = pytest.mark.e2e

QUERY = "query Q($id: ID!) { project(id: $id) { version name } }"


def test_stored_but_undelivered_events_are_published_on_the_next_start(cli_runtime, tmp_path):
    state = tmp_path / "state"
    # The bus refuses Project events and the re-publish queue is down: the command's event is stored, not delivered.
    broken = cli_runtime(state, inject=["--refuse-bus", "chronicle.Project", "--no-sqs"])
    status, body = http("POST", f"{broken.url}/commands/CreateProject", {"data": {"name": "Late", "ownerId": "o"}})
    assert status == 200, body
    project_id = body["aggregateId"]
    status, body = http("POST", f"{broken.url}/commands/CreateProject", {"data": {"name": "Also", "ownerId": "o"}})
    assert status == 200, body
    other_id = body["aggregateId"]
    assert graphql(broken.url, QUERY, id=project_id)["project"] is None
    broken.kill()

    fixed = cli_runtime(state)  # "Ready." is printed after the re-publish was delivered
    assert graphql(fixed.url, QUERY, id=project_id)["project"] == {"version": 1, "name": "Late"}
    assert graphql(fixed.url, QUERY, id=other_id)["project"] == {"version": 1, "name": "Also"}
    _, health = http("GET", f"{fixed.url}/health")
    assert health["journal"]["republishedStreams"] == 2
    assert "re-published 2 streams" in "".join(fixed.output)
    fixed.stop()

    again = cli_runtime(state)  # the deliveries were recorded: nothing to publish again
    _, health = http("GET", f"{again.url}/health")
    assert health["journal"]["republishedStreams"] == 0
    assert graphql(again.url, QUERY, id=project_id)["project"] == {"version": 1, "name": "Late"}
    again.stop()
