"""EventBridge's InputTransformer as the local runtime applies it to an AppSync target, and AppSync's filtering."""

from __future__ import annotations

from chronicle.local.graphql_local import build_local_schema
from chronicle.local.subscriptions import SubscriptionHub, prepare, transform_input

EVENT = {"detail": {"aggregateId": 'p-"1"', "eventSequence": 7, "eventType": "ProjectCreated",
                    "tags": ["a", "b"], "nested": {"x": 1}}}
PATHS = {"id": "$.detail.aggregateId", "version": "$.detail.eventSequence", "tags": "$.detail.tags",
         "nested": "$.detail.nested", "first": "$.detail.tags[0]"}


def test_placeholders_outside_quotes_take_json_values():
    template = '{"id": <id>, "version": <version>, "tags": <tags>, "nested": <nested>, "first": <first>}'
    assert transform_input({"InputPathsMap": PATHS, "InputTemplate": template}, EVENT) == {
        "id": 'p-"1"', "version": 7, "tags": ["a", "b"], "nested": {"x": 1}, "first": "a"}


def test_placeholders_inside_strings_take_the_text():
    template = '{"text": "<id> is at <version>"}'
    assert transform_input({"InputPathsMap": PATHS, "InputTemplate": template}, EVENT) == {
        "text": 'p-"1" is at 7'}


def test_the_template_rule_of_this_project():
    template = '{"id": <id>, "version": <version>, "eventType": <eventType>}'
    paths = {"id": "$.detail.aggregateId", "version": "$.detail.eventSequence", "eventType": "$.detail.eventType"}
    assert transform_input({"InputPathsMap": paths, "InputTemplate": template}, EVENT) == {
        "id": 'p-"1"', "version": 7, "eventType": "ProjectCreated"}


SDL = """
type Query { ping: String }
type Mutation { changed(id: ID!, version: Int!): Change }
type Change { id: ID! version: Int! }
type Subscription { onChanged(id: ID): Change @aws_subscribe(mutations: ["changed"]) }
"""


def test_hub_filters_on_given_arguments_only():
    schema = build_local_schema(SDL)
    hub = SubscriptionHub(schema)
    got: dict[str, list] = {"one": [], "all": []}
    for key, variables in (("one", {"id": "a"}), ("all", {})):
        document, operation = prepare(schema, "subscription S($id: ID) { onChanged(id: $id) { version } }")
        hub.subscribe(document, operation, variables, got[key].append)
    assert hub.publish("changed", {"id": "a", "version": 1}) == 2
    assert hub.publish("changed", {"id": "b", "version": 2}) == 1
    assert hub.publish("otherMutation", {"id": "a", "version": 3}) == 0
    assert got["one"] == [{"data": {"onChanged": {"version": 1}}}]
    assert got["all"] == [{"data": {"onChanged": {"version": 1}}}, {"data": {"onChanged": {"version": 2}}}]
