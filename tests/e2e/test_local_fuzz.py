"""Bad input, generated where schemathesis (test_local_schemathesis.py) cannot reach: the envelope's shapes, valid and
not, come from api/openapi.yaml there; here are valid commands carrying tricky text (lone surrogates, control and
bidi characters, emoji) that must reach the decider and the store, and bodies that are not JSON at all. Whatever
comes, the answer is a documented status with a JSON body of docs/reference/errors.md, never a 500 or a traceback, and a
refused command stores nothing."""

from __future__ import annotations

import json

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_helpers import http

from chronicle.errors import HTTP_STATUS

pytestmark = pytest.mark.e2e

text = st.one_of(st.text(max_size=40), st.text(st.characters(codec="utf-8"), max_size=5),
                 st.sampled_from(["", " ", "\ud800", "a\x00b", "../../etc", "$.data", "{}", "ñ" * 300]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False), text)
json_values = st.recursive(scalars, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(text, children, max_size=4), max_leaves=12)
# Mostly valid commands, so that generated input reaches the decider and the store, not only the validator.
tricky = st.one_of(text, st.sampled_from(["\ud800", "x\udfff", "\U0001F600", "\u202e", "\ufeff"]))
creates = st.fixed_dictionaries({"data": st.fixed_dictionaries(
    {"name": tricky, "ownerId": tricky}, optional={"description": st.one_of(tricky, st.none()),
                                                    "visibility": st.sampled_from(["private", "public", "x"])})},
    optional={"commandId": tricky, "aggregateId": tricky})
changes = st.fixed_dictionaries({"aggregateId": st.sampled_from(["project-fuzz", "fuzz-missing"]), "data": st.fixed_dictionaries(
    {}, optional={"set": st.dictionaries(tricky, json_values, max_size=3), "unset": st.lists(tricky, max_size=3)})},
    optional={"expectedVersion": st.integers(-1, 3), "commandId": tricky})
anything = st.one_of(json_values.map(json.dumps),
                     st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
                     st.sampled_from(['{"data":', "null", "[]", '{"data": {}} trailing', "\ufeff{}"]))
requests = st.one_of(
    st.tuples(st.just("CreateProject"), creates.map(json.dumps)),
    st.tuples(st.just("ChangeProjectConfiguration"), changes.map(json.dumps)),
    st.tuples(st.sampled_from(["CreateProject", "ChangeProjectConfiguration", "Nope", "createproject"]), anything))


def event_count(runtime) -> int:
    client = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")
    return client.scan(TableName=runtime.stack.tables["EventStoreTable"], Select="COUNT")["Count"]


@pytest.fixture(scope="module")
def fuzz_project(runtime):
    status, body = http("POST", f"{runtime.url}/commands/CreateProject",
                        {"aggregateId": "project-fuzz", "data": {"name": "Fuzz", "ownerId": "fuzz"}})
    assert status in (200, 409), body


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(request=requests)
def test_any_body_gets_a_documented_answer_and_a_refusal_stores_nothing(runtime, fuzz_project, request):
    command, body = request
    before = event_count(runtime)
    status, response = http("POST", f"{runtime.url}/commands/{command}", body.encode("utf-8", "surrogatepass"))
    assert status in (200, 400, 404, 409, 413, 422), (status, response)
    if status == 200:
        assert response["version"] >= 1 and response["events"]
        return
    assert set(response) == {"error", "message", "details"}, response
    assert HTTP_STATUS[response["error"]] == status, response
    assert isinstance(response["details"], list) and "Traceback" not in json.dumps(response)
    assert event_count(runtime) == before
