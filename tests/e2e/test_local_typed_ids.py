"""Issue 20 item 1 over HTTP: typed id prefixes (docs/decisions/0010). A create cannot take a future user's id,
and no actor id (X-Actor-Id, a token's subject) may take a project's or template's prefix."""

from __future__ import annotations

import json
import uuid

import pytest
from local_helpers import http

pytestmark = pytest.mark.e2e


def post(runtime, path: str, body: dict, actor: str) -> tuple[int, dict]:
    return http("POST", f"{runtime.url}{path}", json.dumps(body), {"X-Actor-Id": actor})


@pytest.mark.parametrize("actor", ["project-x", "template-1"])
def test_an_actor_id_with_a_reserved_prefix_is_403(runtime, actor):
    status, answer = post(runtime, "/commands/RegisterUser",
                          {"data": {"email": f"{uuid.uuid4().hex[:8]}@example.com", "displayName": "X"}},
                          actor)
    assert status == 403 and answer["error"] == "Forbidden", answer
    status, answer = post(runtime, "/graphql", {"query": "{ __typename }"}, actor)
    assert status == 403 and answer["error"] == "Forbidden", answer


def test_a_squatted_create_is_400_and_the_user_registers_afterwards(runtime):
    bob = f"bob-{uuid.uuid4().hex[:8]}"
    status, answer = post(runtime, "/commands/CreateProject", {"aggregateId": bob, "data": {"name": "S",
                                                                                            "ownerId": "m"}},
                          "mallory")
    assert status == 400 and answer["error"] == "ValidationError", answer
    assert [d["path"] for d in answer["details"]] == ["$.aggregateId"]
    status, answer = post(runtime, "/commands/RegisterUser", {"data": {"email": f"{bob}@example.com",
                                                                       "displayName": "Bob"}}, bob)
    assert status == 200 and answer["aggregateId"] == bob, answer
