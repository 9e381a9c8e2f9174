"""schemathesis against the local runtime, from the API's own descriptions (api/openapi.yaml, api/schema.graphql).

Generated requests, valid and invalid (a bounded number per operation, so the file runs in well under a minute):
no 5xx, every answer documented and in its documented shape, and a refused command stores nothing.
What a generator from the schemas cannot express (bytes that are not JSON or UTF-8, NaN, nesting, framing,
oversized headers) is in test_local_http_edges.py and tests/unit/test_strict_input.py.
"""

from __future__ import annotations

import json
import re

import boto3
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from local_helpers import ROOT, http
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)

from chronicle.local.graphql_local import appsync_prelude
from chronicle.schemas import registry

pytestmark = pytest.mark.e2e

# Examples per operation: a command runs a whole workflow (about 0.1-0.5 s here), a query is cheap.
REST_EXAMPLES, GRAPHQL_EXAMPLES = 10, 20
SETTINGS = settings( deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

# Locally the actor is the X-Actor-Id header (docs/reference/authorization.md), not a SigV4 signature: the auth checks do not apply.
# positive_data_acceptance does not either: the OpenAPI body is the envelope; each command's data is checked against
# schemas/commands/<T>.json, which the generator does not see.
REST_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
               negative_data_rejection]

openapi = schemathesis.openapi.from_path(ROOT / "api" / "openapi.yaml")
openapi.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                 max_examples=REST_EXAMPLES)
openapi.config.phases.update(phases=["examples", "fuzzing"])  # the coverage phase alone sends hundreds


# One generic route, /commands/{commandType}: most generated types name no command (404 UnknownCommand); about half
# the cases are sent to a real command instead, some with a body that command accepts, so generated input reaches
# the decider and the store too (a mismatched pair is a 400, which is fine).
COMMANDS = sorted(registry().command_types)
TARGET = "project-schemathesis"
VALID_BODIES = st.one_of(
    st.fixed_dictionaries({"data": st.fixed_dictionaries(
        {"name": st.text(st.characters(codec="utf-8"), min_size=1, max_size=100).filter(str.strip),
         "ownerId": st.text(min_size=1, max_size=20).filter(str.strip)})}),
    st.fixed_dictionaries({"aggregateId": st.just(TARGET), "data": st.fixed_dictionaries(
        {"set": st.dictionaries(st.text(min_size=1, max_size=10), st.integers() | st.text(max_size=10),
                                min_size=1, max_size=3)})}))


@openapi.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters or "commandType" not in path_parameters:
        return st.just(path_parameters)
    return st.one_of(st.just(path_parameters),
                     st.sampled_from(COMMANDS).map(lambda t: {**path_parameters, "commandType": t}))


@openapi.hook
def flatmap_body(context, body):
    return st.one_of(st.just(body), VALID_BODIES)


@pytest.fixture(scope="module")
def target(runtime):
    status, body = http("POST", f"{runtime.url}/commands/CreateProject",
                        {"aggregateId": TARGET, "data": {"name": "Target", "ownerId": "schemathesis"}})
    assert status in (200, 409), body


def counts(runtime) -> tuple[int, int]:
    client = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")
    tables = runtime.stack.tables
    return tuple(client.scan(TableName=tables[name], Select="COUNT")["Count"]
                 for name in ("EventStoreTable", "CommandLogTable"))


STATUSES: list = []


@openapi.parametrize()
@settings(SETTINGS, max_examples=REST_EXAMPLES)
def test_command_api(case, runtime, target):
    before = counts(runtime)
    response = case.call(base_url=runtime.url, headers={"X-Actor-Id": "schemathesis"}, timeout=60)
    case.validate_response(response, checks=REST_CHECKS)
    STATUSES.append(response.status_code)
    if response.status_code != 200:
        assert counts(runtime) == before, f"a refused request stored something: {response.text[:300]}"
        body = response.json()
        assert set(body) == {"error", "message", "details"}, body


# ---- GraphQL ---------------------------------------------------------------------------------------------
_sdl = (ROOT / "api" / "schema.graphql").read_text(encoding="utf-8")
graphql_api = schemathesis.graphql.from_file(appsync_prelude(_sdl) + _sdl)
graphql_api.config.generation.update(max_examples=GRAPHQL_EXAMPLES)
graphql_api.config.phases.update(phases=["examples", "fuzzing"])


def _string(values):
    from graphql import StringValueNode

    return values.map(lambda text: StringValueNode(value=text))


# AppSync's scalars: valid values and near misses (no offset, not JSON), so that both answers are exercised.
schemathesis.graphql.scalar("AWSDateTime", _string(st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()), st.datetimes().map(lambda d: d.isoformat()),
    st.text(max_size=30))))
schemathesis.graphql.scalar("AWSJSON", _string(st.one_of(
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3).map(json.dumps), st.text(max_size=10))))

LEAKS = re.compile(r"botocore|ClientError|ParamValidation|ValidationException|Traceback|<html|Error:|"
                   r"KeyError|TypeError|AttributeError|OverflowError|dynamodb", re.IGNORECASE)


@graphql_api.parametrize()
@settings(SETTINGS, max_examples=GRAPHQL_EXAMPLES)
def test_graphql_api(case, runtime):
    before = counts(runtime)
    response = case.call(base_url=f"{runtime.url}/graphql", headers={"X-Actor-Id": "schemathesis"}, timeout=60)
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert set(body) <= {"data", "errors"} and ("data" in body or "errors" in body), body
    for error in body.get("errors") or []:
        assert isinstance(error.get("message"), str) and not LEAKS.search(error["message"]), error
    query = case.body if isinstance(case.body, str) else case.body["query"]
    if query.lstrip().startswith("mutation"):
        assert body.get("data") is None and body["errors"], body  # Unauthorized, or invalid before that
    assert counts(runtime) == before


def test_the_generated_commands_reached_the_store(runtime):
    """Runs after the generated ones: some were accepted, some refused (the generator is not all 404s)."""
    if not STATUSES:
        pytest.skip("runs after test_command_api in the same session")
    assert 200 in STATUSES and any(400 <= s < 500 for s in STATUSES), sorted(set(STATUSES))
