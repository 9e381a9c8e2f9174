"""The local /graphql bounds work per request like AppSync (template.yaml's QueryDepthLimit and ResolverCountLimit),
refuses what AppSync refuses, and never shows a client an exception's text."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from chronicle.errors import ValidationError
from chronicle.local.graphql_local import LocalGraphQL, limits_from_template
from chronicle.local.stack import load_template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api():
    calls = []

    def resolve(field, args):
        calls.append(field)
        if args.get("aggregateId") == "boom":
            raise KeyError("arn:aws:dynamodb:secret-table")  # an internal failure, with internals in its text
        if args.get("aggregateId") == "mistake":
            raise ValidationError("fromVersion counts from 1.")
        return [] if field == "history" else None

    depth, resolvers = limits_from_template(load_template(ROOT / "template.yaml"))
    graphql = LocalGraphQL(ROOT / "api" / "schema.graphql", resolve=resolve, depth_limit=depth,
                           resolver_limit=resolvers)
    graphql.calls = calls
    return graphql


def test_the_template_sets_both_limits_and_the_local_api_uses_them(api):
    props = load_template(ROOT / "template.yaml")["Resources"]["GraphQLApi"]["Properties"]
    assert (api.depth_limit, api.resolver_limit) == (props["QueryDepthLimit"], props["ResolverCountLimit"])
    assert 1 <= api.depth_limit <= 75 and 1 <= api.resolver_limit <= 10_000  # AppSync's ranges


def test_ten_thousand_aliased_fields_are_refused_before_any_resolver_runs(api):
    query = "{" + " ".join(f'h{i}: history(aggregateId: "x") {{ eventId }}' for i in range(10_000)) + "}"
    out = api.execute(query)
    assert out["data"] is None and api.calls == []
    assert "resolver" in out["errors"][0]["message"] or "token" in out["errors"][0]["message"], out["errors"][0]
    # at the limit it runs; one more is refused with the limit named
    at_limit = "{" + " ".join(f'h{i}: history(aggregateId: "x") {{ eventId }}' for i in range(api.resolver_limit)) + "}"
    assert "errors" not in api.execute(at_limit) and len(api.calls) == api.resolver_limit
    over = at_limit[:-1] + ' more: history(aggregateId: "x") { eventId } }'
    out = api.execute(over)
    assert "ResolverCountLimit" in out["errors"][0]["message"] and len(api.calls) == api.resolver_limit


def test_depth_is_limited_and_deep_text_is_not_a_crash(api):
    def nested(levels):
        return "{ __schema { types { " + "ofType { " * (levels - 3) + "name" + " }" * (levels - 1) + " }"

    assert "errors" not in api.execute(nested(api.depth_limit)), api.execute(nested(api.depth_limit))
    assert "QueryDepthLimit" in api.execute(nested(api.depth_limit + 1))["errors"][0]["message"]
    message = api.execute("{" + "a {" * 5000 + "b" + "}" * 5001)["errors"][0]["message"]
    assert "deep" in message or "depth" in message, message
    # a fragment does not hide depth
    fragment = "fragment F on __Type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { " \
               "ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } }"
    assert "QueryDepthLimit" in api.execute("{ __schema { types { ...F } } } " + fragment)["errors"][0]["message"]


def test_an_unexpected_exception_is_an_id_not_its_text(api, caplog):
    with caplog.at_level(logging.ERROR):
        out = api.execute('{ history(aggregateId: "boom") { eventId } }')
    error = out["errors"][0]
    assert error["message"].startswith("internal error (id ") and error["errorType"] == "InternalError"
    assert "secret" not in str(out) and "KeyError" not in str(out)
    error_id = error["message"].removeprefix("internal error (id ").rstrip(")")
    assert error_id in caplog.text and "secret-table" in caplog.text  # the log has what the client does not


def test_a_client_mistake_keeps_its_message(api):
    error = api.execute('{ history(aggregateId: "mistake") { eventId } }')["errors"][0]
    assert (error["message"], error["errorType"]) == ("fromVersion counts from 1.", "ValidationError")


@pytest.mark.parametrize("literal", ['"2026-11-30T12:00:00"', '"2026-11-30"', "5", '"yesterday"',
                                     '"2026-02-30T00:00:00Z"'])
def test_aws_datetime_needs_a_full_date_time_with_an_offset(api, literal):
    out = api.execute(f'{{ projectAt(id: "p", asOf: {literal}) {{ id }} }}')
    assert out["errors"] and api.calls == [], out
    out = api.execute('query($t: AWSDateTime) { projectAt(id: "p", asOf: $t) { id } }',
                      {"t": literal.strip('"') if literal != "5" else 5})
    assert out["errors"] and api.calls == [], out


@pytest.mark.parametrize("value", ["2026-11-30T12:00:00Z", "2026-11-30T12:00:00.123+01:00", "2026-11-30T12:00Z"])
def test_aws_datetime_with_an_offset_is_accepted(api, value):
    assert "errors" not in api.execute(f'{{ projectAt(id: "p", asOf: "{value}") {{ id }} }}')


def test_clients_cannot_publish_change_notifications_nor_subscribe_over_post(api):
    mutation = 'mutation { publishProjectChanged(id: "p", version: 1, eventType: "Fake") { id } }'
    out = api.execute(mutation)
    assert out["errors"][0]["errorType"] == "Unauthorized" and out["data"] is None
    received = []
    api.hub.publish = lambda name, value: received.append((name, value))
    api.execute(mutation, transport="websocket")
    assert received == []
    api.execute(mutation, transport="rule")  # the EventBridge rule's target (IAM in AWS) may
    assert received == [("publishProjectChanged", {"id": "p"})]
    out = api.execute("subscription { onProjectChanged { id } }")
    assert out["data"] is None and "WebSocket" in out["errors"][0]["message"]


def _fan_out(levels: int, on: str = "Query", leaf: str = "__typename") -> str:
    """`levels` fragments, each spreading the next twice: 2**levels paths once expanded, ~40 bytes a level."""
    fragments = " ".join(f"fragment F{i} on {on} {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"{fragments} fragment F{levels} on {on} {{ {leaf} }}"


def test_fragment_fan_out_is_measured_without_expanding_it_and_refused_early(api):
    import threading
    import time

    document = "query { ...F0 } " + _fan_out(30)
    out: dict = {}
    worker = threading.Thread(target=lambda: out.update(api.execute(document)), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(30)  # the unbounded expansion takes minutes (2**30 paths); measuring is linear
    assert not worker.is_alive(), "the fan-out document was expanded path by path"
    assert out["data"] is None and api.calls == []
    assert "resolvers" in out["errors"][0]["message"] or "fields" in out["errors"][0]["message"], out
    assert time.monotonic() - started < 30
    # the same fan-out under a field (one resolver) and in a fragment no operation uses are refused too
    nested = 'query { project(id: "p") { ...F0 } } ' + _fan_out(30, "Project", "id")
    assert "fields" in api.execute(nested)["errors"][0]["message"]
    unused = "query { __typename } " + _fan_out(30)
    assert "fields" in api.execute(unused)["errors"][0]["message"]
    # a thousand-fragment chain is a clear error, not a RecursionError
    chain = "query { ...C0 } " + " ".join(f"fragment C{i} on Query {{ ...C{i + 1} }}" for i in range(1050)) \
        + " fragment C1050 on Query { __typename }"
    assert "nest too deeply" in api.execute(chain)["errors"][0]["message"] and api.calls == []


def test_a_modest_fan_out_still_runs(api):
    out = api.execute('query { ...F0 } ' + _fan_out(3, leaf='history(aggregateId: "x") { eventId }'))
    assert "errors" not in out, out
    assert api.calls == ["history"]  # graphql-core collects the same field once


@pytest.mark.parametrize("mutation", [
    'mutation { ...F } fragment F on Mutation { publishProjectChanged(id: "p", version: 1, eventType: "X") { id } }',
    'mutation { ... on Mutation { publishProjectChanged(id: "p", version: 1, eventType: "X") { id } } }',
    'mutation { ...F } fragment F on Mutation { ...G } '
    'fragment G on Mutation { a: publishUserChanged(id: "u", version: 1, eventType: "X") { id } }',
])
def test_the_rule_only_mutations_are_refused_through_fragments_too(api, mutation):
    received = []
    api.hub.publish = lambda name, value: received.append((name, value))
    for transport in ("http", "websocket"):
        out = api.execute(mutation, transport=transport)
        assert out["data"] is None and out["errors"][0]["errorType"] == "Unauthorized", out
    assert received == []
    assert "errors" not in api.execute(mutation, transport="rule")  # the rule itself may, and it is published
    assert [name for name, _ in received] in (["publishProjectChanged"], ["publishUserChanged"])
