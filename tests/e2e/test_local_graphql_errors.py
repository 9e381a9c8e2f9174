"""GraphQL arguments a client gets wrong: a clear GraphQL error, never an internal exception's type or text
(botocore, DynamoDB, Python), and never an emulator's HTML page."""

from __future__ import annotations

import base64
import json

import pytest
from local_helpers import http

pytestmark = pytest.mark.e2e

LEAKS = ("botocore", "ParamValidation", "ClientError", "ValidationException", "Traceback", "<html", "<!DOCTYPE",
         "OverflowError", "AttributeError", "KeyError", "TypeError", "dynamodb")


def ask(runtime, query: str, **variables) -> dict:
    status, body = http("POST", f"{runtime.url}/graphql", {"query": query, "variables": variables})
    assert status == 200, body
    return body


def refused(runtime, query: str, **variables) -> str:
    body = ask(runtime, query, **variables)
    assert body.get("errors"), body
    text = json.dumps(body)
    assert not any(leak in text for leak in LEAKS), text
    return body["errors"][0]["message"]


def token(key) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


@pytest.mark.parametrize("forged", [
    "!!!", "bm90IGpzb24", token({"id": {"S": 5}}), token({"id": {"N": "5"}}), token({"nope": {"S": "x"}}),
    token({"id": {"S": ""}}), token([1, 2]), token({"id": {"S": "x", "B": "y"}}), "\u00e9\u00e9",
    token({"id": {"S": "x"}, "ownerId": {"S": "o"}, "updatedAt": {"S": "t"}}),
])
def test_a_forged_next_token_is_a_clear_error(runtime, forged):
    message = refused(runtime, "query($t: String) { projects(nextToken: $t) { items { id } nextToken } }", t=forged)
    assert "nextToken" in message
    message = refused(runtime, "query($t: String) { projects(ownerId: \"alice\", nextToken: $t) { items { id } } }",
                      t=forged)
    assert "nextToken" in message


def test_a_token_of_another_owner_is_refused(runtime):
    forged = token({"id": {"S": "x"}, "ownerId": {"S": "mallory"}, "updatedAt": {"S": "2026"}})
    assert "nextToken" in refused(runtime, 'query($t: String) { projects(ownerId: "alice", nextToken: $t) '
                                           "{ items { id } } }", t=forged)


@pytest.mark.parametrize("limit", [0, -1, 101, 2**31 - 1])
def test_limit_outside_1_to_100_is_an_error_not_clamped(runtime, limit):
    assert "limit" in refused(runtime, "query($l: Int) { projects(limit: $l) { items { id } } }", l=limit)


def test_limits_inside_the_range_page(runtime):
    for limit in (1, 100):
        assert "errors" not in ask(runtime, "query($l: Int) { projects(limit: $l) { items { id } } }", l=limit)


@pytest.mark.parametrize("query", [
    '{ history(aggregateId: "") { eventId } }', '{ project(id: "") { id } }', '{ projectAt(id: "") { id } }',
    '{ projects(ownerId: "") { items { id } } }', '{ history(aggregateId: "x", fromVersion: -1) { eventId } }',
    '{ projectAt(id: "x", version: 0) { id } }',
])
def test_empty_ids_and_negative_versions_are_clear_errors(runtime, query):
    refused(runtime, query)


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+14:00", "2026-11-30T10:00:00", "9999-12-31T23:59:59-14:00"])
def test_as_of_out_of_range_or_without_offset_is_a_clear_error(runtime, as_of):
    message = refused(runtime, "query($t: AWSDateTime) { projectAt(id: \"x\", asOf: $t) { id } }", t=as_of)
    assert "asOf" in message or "AWSDateTime" in message, message


def test_a_non_string_as_of_is_a_clear_error(runtime):
    refused(runtime, '{ projectAt(id: "x", asOf: 5) { id } }')
    refused(runtime, "query($t: AWSDateTime) { projectAt(id: \"x\", asOf: $t) { id } }", t=5)


def test_a_client_cannot_push_fake_notifications(runtime):
    body = ask(runtime, 'mutation { publishProjectChanged(id: "p", version: 1, eventType: "Fake") { id } }')
    assert body["data"] is None and body["errors"][0]["errorType"] == "Unauthorized"


def test_a_subscription_over_post_is_refused(runtime):
    body = ask(runtime, "subscription { onProjectChanged { id } }")
    assert body["data"] is None and "WebSocket" in body["errors"][0]["message"]


def test_a_rule_only_mutation_reached_through_a_fragment_is_refused_not_run(runtime):
    for query in ('mutation { ...F } fragment F on Mutation { publishProjectChanged(id: "p", version: 1, '
                  'eventType: "Fake") { id } }',
                  'mutation { ... on Mutation { publishUserChanged(id: "u", version: 1, eventType: "Fake") { id } } }'):
        status, body = http("POST", f"{runtime.url}/graphql", {"query": query})
        assert status == 200 and body["data"] is None, body
        assert body["errors"][0]["errorType"] == "Unauthorized" and "Not Authorized" in body["errors"][0]["message"]


def test_fragment_fan_out_is_refused_at_once(runtime):
    levels = 30  # 2**30 paths once expanded; 1.2 KB of text
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    query = "query { ...F0 } " + fragments + f" fragment F{levels} on Query {{ __typename }}"
    status, body = http("POST", f"{runtime.url}/graphql", {"query": query}, timeout=20)
    assert status == 200 and body["data"] is None and body["errors"], body
    status, health = http("GET", f"{runtime.url}/health")
    assert status == 200
