"""Templates and services over HTTP on the local runtime: the whole story of docs/reference/commands.md and docs/reference/graphql.md (upload,
validation, a project with two dependent services, a forbidden removal, removal in order), every AddService /
RemoveService rule as its named 422, the body limits, and onTemplateChanged."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_helpers import graphql, http
from test_local_subscriptions import open_socket

pytestmark = pytest.mark.e2e

SCHEMA = {"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}}, "required": ["replicas"]}
BODY = "kind: Deployment\nspec:\n  replicas: ${{ parameters.replicas }}\n"

READ = """query R($t: ID!, $p: ID!) {
  template(id: $t) { id name version body bodySha256 bodySize parameters uploadedBy
                     validation { valid errors { path message } atVersion } }
  templates(limit: 100) { items { id name version } }
  templateUsage(templateId: $t) { serviceCount projectCount services { projectId serviceName templateVersion } }
  serviceTopology(projectId: $p) { version services { name dependsOn } edges { from to } deployOrder }
}"""


def command(runtime, command_type, body, actor="alice"):
    return http("POST", f"{runtime.url}/commands/{command_type}", body, {"X-Actor-Id": actor})


def ok(runtime, command_type, body):
    status, answer = command(runtime, command_type, body)
    assert status == 200, answer
    return answer


def refused_rules(runtime, command_type, body):
    status, answer = command(runtime, command_type, body)
    assert status == 422 and answer["error"] == "BusinessRuleViolation", answer
    return [d["rule"] for d in answer["details"]]


def upload(runtime, body=BODY, parameters=None, name="web"):
    return ok(runtime, "UploadTemplate", {"data": {"name": name, "body": body,
                                                   "parameters": parameters or SCHEMA}})["aggregateId"]


def test_the_whole_story(runtime):
    answer = ok(runtime, "UploadTemplate", {"data": {"name": "story-web", "body": BODY, "parameters": SCHEMA}})
    template_id = answer["aggregateId"]
    assert [e["eventType"] for e in answer["events"]] == ["TemplateUploaded", "TemplateValidated"]
    project_id = ok(runtime, "CreateProject", {"data": {"name": "Story", "ownerId": "alice"}})["aggregateId"]

    def read():
        return graphql(runtime.url, READ, t=template_id, p=project_id)

    seen = read()
    assert seen["template"]["body"] == BODY and seen["template"]["uploadedBy"] == "alice"
    assert seen["template"]["validation"] == {"valid": True, "errors": [], "atVersion": 2}
    assert {"id": template_id, "name": "story-web", "version": 2} in seen["templates"]["items"]
    assert seen["templateUsage"]["serviceCount"] == 0
    assert seen["serviceTopology"] == {"version": 1, "services": [], "edges": [], "deployOrder": []}

    ok(runtime, "AddService", {"aggregateId": project_id, "data": {
        "serviceName": "db", "templateId": template_id, "parameters": {"replicas": 1}}})
    seen = read()
    assert seen["templateUsage"] == {"serviceCount": 1, "projectCount": 1, "services": [
        {"projectId": project_id, "serviceName": "db", "templateVersion": 2}]}
    assert seen["serviceTopology"]["deployOrder"] == ["db"]

    ok(runtime, "AddService", {"aggregateId": project_id, "data": {
        "serviceName": "api", "templateId": template_id, "parameters": {"replicas": 3}, "dependsOn": ["db"]}})
    seen = read()
    assert seen["templateUsage"]["serviceCount"] == 2
    assert seen["serviceTopology"] == {"version": 3, "services": [{"name": "api", "dependsOn": ["db"]},
                                                                  {"name": "db", "dependsOn": []}],
                                       "edges": [{"from": "api", "to": "db"}], "deployOrder": ["db", "api"]}

    status, answer = command(runtime, "RemoveService", {"aggregateId": project_id, "data": {"serviceName": "db"}})
    assert status == 422 and answer["details"] == [{"rule": "NoDependents", "serviceName": "db",
                                                    "dependents": ["api"]}]
    assert read() == seen  # nothing changed

    ok(runtime, "RemoveService", {"aggregateId": project_id, "data": {"serviceName": "api"}})
    seen = read()
    assert seen["templateUsage"]["serviceCount"] == 1 and seen["serviceTopology"]["deployOrder"] == ["db"]
    ok(runtime, "RemoveService", {"aggregateId": project_id, "data": {"serviceName": "db"}})
    seen = read()
    assert seen["templateUsage"]["serviceCount"] == 0
    assert seen["serviceTopology"] == {"version": 5, "services": [], "edges": [], "deployOrder": []}
    assert seen["template"]["version"] == 2  # the template itself did not change

    # every version of the project answers, rebuilt from its events
    history = graphql(runtime.url, 'query H($id: ID!) { history(aggregateId: $id) { eventType eventSequence '
                                   'actorId data } }', id=project_id)["history"]
    assert [e["eventType"] for e in history] == ["ProjectCreated", "ServiceAdded", "ServiceAdded",
                                                 "ServiceRemoved", "ServiceRemoved"]
    assert json.loads(history[1]["data"])["templateVersion"] == 2
    expected_services = {1: [], 2: ["db"], 3: ["api", "db"], 4: ["db"], 5: []}
    for version, names in expected_services.items():
        at = graphql(runtime.url, "query A($id: ID!, $v: Int) { projectAt(id: $id, version: $v) { version "
                                  "services { name templateId } } }", id=project_id, v=version)["projectAt"]
        assert at["version"] == version and [s["name"] for s in at["services"]] == names
    template_history = graphql(runtime.url, 'query H($id: ID!) { history(aggregateId: $id) { eventType } }',
                               id=template_id)["history"]
    assert [e["eventType"] for e in template_history] == ["TemplateUploaded", "TemplateValidated"]


def test_every_service_rule_is_a_named_422(runtime):
    template_id = upload(runtime)
    invalid_id = upload(runtime, body="x: ${{ parameters.missing }}\n", parameters={"type": "object"}, name="bad")
    project_id = ok(runtime, "CreateProject", {"data": {"name": "Rules", "ownerId": "alice"}})["aggregateId"]
    ok(runtime, "AddService", {"aggregateId": project_id, "data": {
        "serviceName": "db", "templateId": template_id, "parameters": {"replicas": 1}}})
    ok(runtime, "AddService", {"aggregateId": project_id, "data": {
        "serviceName": "api", "templateId": template_id, "parameters": {"replicas": 1}, "dependsOn": ["db"]}})

    def add(**data):
        return refused_rules(runtime, "AddService", {"aggregateId": project_id, "data": {
            "serviceName": "web", "templateId": template_id, "parameters": {"replicas": 1}, **data}})

    assert add(serviceName="db") == ["ServiceNameUnique"]
    assert add(templateId="no-such-template") == ["TemplateExists"]
    assert add(templateId=invalid_id, parameters={}) == ["TemplateValidated"]
    status, answer = command(runtime, "AddService", {"aggregateId": project_id, "data": {
        "serviceName": "web", "templateId": template_id, "parameters": {"replicas": 0, "extra": "x"}}})
    assert status == 422 and [(d["rule"], d["path"]) for d in answer["details"]] == [
        ("ParametersMatchTemplate", "$.data.parameters.replicas")]
    assert add(dependsOn=["db", "cache", "queue"]) == ["DependenciesExist"]
    assert add(dependsOn=["web"]) == ["DependenciesExist"]  # no service can depend on itself: no cycles
    assert refused_rules(runtime, "RemoveService", {"aggregateId": project_id, "data": {"serviceName": "x"}}) == [
        "ServiceExists"]
    assert refused_rules(runtime, "RemoveService", {"aggregateId": project_id, "data": {"serviceName": "db"}}) == [
        "NoDependents"]
    ok(runtime, "ChangeTemplateParameters", {"aggregateId": template_id, "data": {"parameters": {
        "type": "object", "properties": {"replicas": {"type": "integer"}, "zone": {"type": "string"}},
        "required": ["zone"]}}})
    assert add() == ["ParametersMatchTemplate"]  # valid against the old schema only
    ok(runtime, "AddService", {"aggregateId": project_id, "data": {
        "serviceName": "web", "templateId": template_id, "parameters": {"replicas": 1, "zone": "a"}}})


def test_template_body_limits_and_invalid_templates(runtime):
    status, answer = command(runtime, "UploadTemplate", {"data": {"name": "big", "body": "x" * (64 * 1024 + 1),
                                                                  "parameters": SCHEMA}})
    assert status == 413 and answer["error"] == "PayloadTooLarge"
    status, answer = command(runtime, "UploadTemplate", {"data": {"name": "bin", "body": "\u0001\u0002",
                                                                  "parameters": SCHEMA}})
    assert status == 400 and answer["details"][0]["path"] == "$.data.body"
    exactly = "a: " + "x" * (64 * 1024 - 3)
    assert ok(runtime, "UploadTemplate", {"data": {"name": "max", "body": exactly, "parameters": {
        "type": "object"}}})["version"] == 2
    template_id = upload(runtime, body="a: [\n", parameters={"type": "array"}, name="broken")
    validation = graphql(runtime.url, 'query T($id: ID!) { template(id: $id) { validation { valid errors { path } '
                                      '} } }', id=template_id)["template"]["validation"]
    assert validation == {"valid": False, "errors": [{"path": "$.body"}, {"path": "$.parameters.type"}]}
    assert ok(runtime, "ValidateTemplate", {"aggregateId": template_id, "data": {}})["version"] == 3
    status, answer = command(runtime, "ValidateTemplate", {"aggregateId": "no-such-template", "data": {}})
    assert status == 404 and answer["error"] == "AggregateNotFound"


def test_on_template_changed(runtime):
    template_id = upload(runtime)
    with open_socket(runtime) as ws:
        ws.send(json.dumps({"id": "t", "type": "subscribe", "payload": {
            "query": "subscription S($id: ID) { onTemplateChanged(id: $id) { id version eventType } }",
            "variables": {"id": template_id}}}))
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}
        ok(runtime, "ChangeTemplateParameters", {"aggregateId": template_id, "data": {"parameters": SCHEMA}})
        received = [json.loads(ws.recv(timeout=5))["payload"]["data"]["onTemplateChanged"] for _ in range(2)]
        assert sorted((r["version"], r["eventType"]) for r in received) == [
            (3, "TemplateParametersChanged"), (4, "TemplateValidated")]


def test_a_template_change_racing_add_service_is_caught_by_the_workflow(runtime, monkeypatch):
    """Through the real AddService state machine: right after LoadFacts read the template (old schema), a
    ChangeTemplateParameters lands. The append's ConditionCheck on the template stream fails, the Parallel state's
    Retry runs LoadFacts again, and the service, valid only against the old schema, is refused."""
    from chronicle import aws as chronicle_aws
    from chronicle import facts
    from chronicle.commands import decide_and_append, follow_up, validate_request

    template_id = upload(runtime, name="raced")
    project_id = ok(runtime, "CreateProject", {"data": {"name": "Race", "ownerId": "alice"}})["aggregateId"]
    loads = []
    original = facts.FACT_LOADERS["AddService"]

    def change_template_after_loading(command, loader, bodies):
        found = original(command, loader, bodies)
        loads.append(found["template"]["version"])
        if len(loads) == 1:  # the template moves on (its uploader changes it) before the append
            change = validate_request({"commandType": "ChangeTemplateParameters", "actorId": "alice", "body": json.dumps(
                {"aggregateId": template_id, "data": {"parameters": {
                    "type": "object", "properties": {"replicas": {"type": "integer"}, "zone": {"type": "string"}},
                    "required": ["zone"]}}})})
            store, aggregate_loader = chronicle_aws.event_store(), chronicle_aws.aggregate_loader()
            outcome = decide_and_append(change, store, aggregate_loader)
            validation = facts.load_facts(follow_up(change, outcome, "ValidateTemplate"), aggregate_loader, bodies)
            decide_and_append(validation, store, aggregate_loader)
        return found

    monkeypatch.setitem(facts.FACT_LOADERS, "AddService", change_template_after_loading)
    status, answer = command(runtime, "AddService", {"aggregateId": project_id, "data": {
        "serviceName": "api", "templateId": template_id, "parameters": {"replicas": 2}}})
    assert loads == [2, 4]  # loaded, lost the race, loaded again
    assert status == 422 and [d["rule"] for d in answer["details"]] == ["ParametersMatchTemplate"], answer
    history = graphql(runtime.url, 'query H($id: ID!) { history(aggregateId: $id) { eventType } }', id=project_id)
    assert [e["eventType"] for e in history["history"]] == ["ProjectCreated"]


def test_template_bodies_survive_a_restart(cli_runtime, tmp_path):
    state = tmp_path / "state"
    first = cli_runtime(state)
    template_id = upload(first)
    first.stop()
    assert any((state / "blobs").iterdir())  # the body, content-addressed (docs/local-runtime.md, State)
    second = cli_runtime(state)
    query = 'query T($id: ID!) { template(id: $id) { body validation { valid } } }'
    assert graphql(second.url, query, id=template_id)["template"] == {"body": BODY, "validation": {"valid": True}}
    assert ok(second, "ValidateTemplate", {"aggregateId": template_id, "data": {}})["version"] == 3  # reads S3
    second.stop()


def test_replayed_commands_answer_the_same_and_store_nothing(runtime):
    body = {"commandId": "e2e-upload-once", "data": {"name": "once", "body": BODY, "parameters": SCHEMA}}
    first = ok(runtime, "UploadTemplate", body)
    assert ok(runtime, "UploadTemplate", body) == first
    template_id = first["aggregateId"]
    project_id = ok(runtime, "CreateProject", {"data": {"name": "Once", "ownerId": "alice"}})["aggregateId"]
    add = {"aggregateId": project_id, "commandId": "e2e-add-once", "data": {
        "serviceName": "db", "templateId": template_id, "parameters": {"replicas": 1}}}
    assert ok(runtime, "AddService", add) == ok(runtime, "AddService", add)
    history = graphql(runtime.url, 'query H($a: ID!, $b: ID!) { a: history(aggregateId: $a) { eventType } '
                                   'b: history(aggregateId: $b) { eventType } }', a=template_id, b=project_id)
    assert len(history["a"]) == 2 and len(history["b"]) == 2
    status, answer = command(runtime, "UploadTemplate", {**body, "data": {**body["data"], "name": "other"}})
    assert (status, answer["error"]) == (409, "IdempotencyKeyReused")


_text = st.one_of(st.text(max_size=30), st.sampled_from(["", " ", "\ud800", "a\x00b", "${{ parameters.x }}", "ñ" * 80]))
_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), _text),
                       lambda c: st.lists(c, max_size=3) | st.dictionaries(_text, c, max_size=3), max_leaves=8)
_schemas = st.one_of(_values, st.fixed_dictionaries({"type": st.sampled_from(["object", "string", "nope"])}, optional={
    "properties": st.dictionaries(st.sampled_from(["x", "replicas", "$ref"]), st.one_of(_values, st.fixed_dictionaries(
        {}, optional={"type": st.sampled_from(["integer", "string", "bogus"]), "pattern": _text,
                      "$ref": st.sampled_from(["#/$defs/a", "https://example.invalid/s", "#"]) | _text})), max_size=3),
    "required": st.lists(_text, max_size=2), "$ref": _text}))
_bodies = st.one_of(_text, st.lists(st.sampled_from(["a: 1", "- ${{ parameters.x }}", "[", "{", "key: ${{ parameters.replicas }}",
                                                     ": :", "\t", "\u2028", "&a [*a, *a]"]), max_size=6).map("\n".join))
_uploads = st.fixed_dictionaries({"data": st.fixed_dictionaries(
    {"name": _text, "body": _bodies, "parameters": _schemas}, optional={"description": _text})})
_adds = st.fixed_dictionaries({"serviceName": _text, "templateId": st.sampled_from(["template-fuzz", "nope"])},
                              optional={"parameters": _values, "dependsOn": st.one_of(_values, st.lists(_text, max_size=3))})


def event_count(runtime) -> int:
    import boto3

    client = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")
    return client.scan(TableName=runtime.stack.tables["EventStoreTable"], Select="COUNT")["Count"]


@pytest.fixture(scope="module")
def fuzz_template(runtime):
    for command_type, body in (("UploadTemplate", {"aggregateId": "template-fuzz", "data": {
            "name": "fuzz", "body": BODY, "parameters": SCHEMA}}),
            ("CreateProject", {"aggregateId": "project-fuzz-services", "data": {"name": "Fuzz", "ownerId": "fuzz"}})):
        status, answer = command(runtime, command_type, body)
        assert status in (200, 409), answer


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(request=st.one_of(st.tuples(st.just("UploadTemplate"), _uploads),
                         st.tuples(st.just("AddService"), _adds.map(lambda d: {"aggregateId": "project-fuzz-services",
                                                                               "data": d}))))
def test_any_template_or_service_gets_a_documented_answer(runtime, fuzz_template, request):
    command_type, body = request
    before = event_count(runtime)
    # as the project's creator (the fixture's actor): whether anonymous may write depended on earlier tests' grants
    status, answer = http("POST", f"{runtime.url}/commands/{command_type}",
                          json.dumps(body).encode("utf-8", "surrogatepass"), {"X-Actor-Id": "alice"})
    assert status in (200, 400, 404, 409, 413, 422), (status, answer)
    if status == 200:
        expected = ["TemplateUploaded", "TemplateValidated"] if command_type == "UploadTemplate" else ["ServiceAdded"]
        assert [e["eventType"] for e in answer["events"]] == expected
        return
    assert set(answer) == {"error", "message", "details"} and "Traceback" not in json.dumps(answer), answer
    assert event_count(runtime) == before
