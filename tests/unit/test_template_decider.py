"""The Template decider, template validation and the Project's service rules: pure functions, no AWS."""

from __future__ import annotations

import pytest

from chronicle.domain import aggregate_for_command
from chronicle.domain import project, template
from chronicle.errors import BusinessRuleViolation

SCHEMA = {"type": "object", "properties": {"port": {"type": "integer"}}, "required": ["port"]}


def stored(event_type, data, sequence, actor="alice"):
    return {"eventType": event_type, "eventData": data, "eventSequence": sequence,
            "timestamp": f"2026-01-01T00:00:0{sequence}.000Z", "metadata": {"actorId": actor}}


UPLOADED = {"name": "web", "bodyKey": "templates/" + "a" * 64, "bodySha256": "a" * 64, "bodySize": 10,
            "parameters": SCHEMA}


def test_template_commands_route_to_the_template_aggregate():
    for command in ("UploadTemplate", "ValidateTemplate", "ChangeTemplateParameters"):
        assert aggregate_for_command(command).type == "Template"


@pytest.mark.parametrize("body, parameters, paths", [
    ("port: ${{ parameters.port }}\n", SCHEMA, []),
    ('{"port": "${{ parameters.port }}"}', SCHEMA, []),  # JSON is YAML
    ("a: [1, 2\n", SCHEMA, ["$.body"]),
    ("[" * 20000 + "]" * 20000, {"type": "object"}, ["$.body"]),  # nested too deeply for the parser
    ("a: 1\n", {"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}},
     ["$.parameters.properties.a.pattern"]),
    ("port: ${{ parameters.host }}\n", SCHEMA, ["$.body"]),
    ("port: 1\n", {"type": "array"}, ["$.parameters.type"]),
    ("port: 1\n", {"type": "object", "properties": {"port": {"type": "nonsense"}}},
     ["$.parameters.properties.port.type"]),
    ("port: 1\n", ["not", "an", "object"], ["$.parameters"]),
    ("port: 1\n", {"type": "object", "$defs": {"p": {"type": "integer"}},
                   "properties": {"port": {"$ref": "#/$defs/p"}}}, []),
    ("port: 1\n", {"type": "object", "properties": {"port": {"$ref": "https://example.invalid/p.json"},
                                                    "host": {"$ref": "#/$defs/missing"}}},
     ["$.parameters.properties.host.$ref", "$.parameters.properties.port.$ref"]),
])
def test_validate_template(body, parameters, paths):
    assert [e["path"] for e in template.validate_template(body, parameters)] == paths


def test_upload_never_puts_the_body_in_the_event_and_evolve_keeps_the_uploader():
    [(kind, data)] = template.decide("UploadTemplate", {**UPLOADED, "description": "d"}, template.initial_state())
    assert kind == "TemplateUploaded" and "body" not in data and data["description"] == "d"
    state = template.AGGREGATE.fold([stored("TemplateUploaded", data, 1, actor="bob")])
    assert state["uploadedBy"] == "bob" and state["exists"] and state["parametersVersion"] == 1
    with pytest.raises(ValueError):  # the workflow did not store the body: a wiring bug, not a user's error
        template.decide("UploadTemplate", {"name": "x", "body": "b", "parameters": {}}, template.initial_state())


def test_usable_only_when_the_latest_validation_passed_after_the_last_parameter_change():
    state = template.AGGREGATE.fold([stored("TemplateUploaded", UPLOADED, 1)])
    assert not template.is_usable(state)
    state = template.evolve(state, stored("TemplateValidated", {"valid": True, "errors": []}, 2))
    assert template.is_usable(state) and state["validation"]["atVersion"] == 2
    state = template.evolve(state, stored("TemplateParametersChanged", {"parameters": SCHEMA}, 3))
    assert not template.is_usable(state)
    state = template.evolve(state, stored("TemplateValidated", {"valid": False, "errors": [
        {"path": "$.body", "message": "m"}]}, 4))
    assert not template.is_usable(state)


def test_validate_template_decides_from_its_facts():
    facts = {"atVersion": 1, "validation": {"valid": False, "errors": [{"path": "$.body", "message": "m"}]}}
    assert template.decide("ValidateTemplate", {}, template.initial_state(), facts) == [
        ("TemplateValidated", facts["validation"])]


def template_facts(**overrides):
    facts = {"id": "t-1", "exists": True, "version": 2, "parameters": SCHEMA, "parametersVersion": 1,
             "validation": {"valid": True, "errors": [], "atVersion": 2}}
    return {"template": {**facts, **overrides}, "checks": [{"aggregateId": "t-1", "version": 2}]}


def project_with(*services):
    state = {**project.initial_state(), "exists": True, "version": 1}
    state["services"] = {name: {"templateId": "t-1", "templateVersion": 2, "parameters": {"port": 1},
                                "dependsOn": list(deps)} for name, deps in services}
    return state


def add(state, facts=None, **data):
    return project.decide("AddService", {"serviceName": "api", "templateId": "t-1", "parameters": {"port": 80},
                                         "dependsOn": [], **data}, state, facts or template_facts())


def broken(call) -> list[dict]:
    with pytest.raises(BusinessRuleViolation) as caught:
        call()
    return caught.value.details


def test_add_service_records_the_template_version():
    [(kind, data)] = add(project_with(("db", ())), dependsOn=["db"])
    assert kind == "ServiceAdded" and data["templateVersion"] == 2 and data["dependsOn"] == ["db"]


@pytest.mark.parametrize("facts, data, rule", [
    (None, {"serviceName": "db"}, "ServiceNameUnique"),
    (template_facts(exists=False, version=0), {}, "TemplateExists"),
    (template_facts(validation=None), {}, "TemplateValidated"),
    (template_facts(validation={"valid": False, "errors": [], "atVersion": 2}), {}, "TemplateValidated"),
    (template_facts(parametersVersion=3, version=3), {}, "TemplateValidated"),
    (None, {"parameters": {"port": "80"}}, "ParametersMatchTemplate"),
    (None, {"dependsOn": ["cache"]}, "DependenciesExist"),
])
def test_each_add_service_rule(facts, data, rule):
    details = broken(lambda: add(project_with(("db", ())), facts, **data))
    assert [d["rule"] for d in details] == [rule]


def test_parameters_rule_names_each_json_path():
    schema = {"type": "object", "properties": {"port": {"type": "integer"}, "tags": {
        "type": "array", "items": {"type": "string"}}}, "required": ["port"]}
    details = broken(lambda: add(project_with(), template_facts(parameters=schema),
                                 parameters={"tags": ["a", 1]}))
    assert sorted(d["path"] for d in details) == ["$.data.parameters", "$.data.parameters.tags[1]"]


def test_a_schema_with_a_dangling_reference_is_a_rule_violation_not_a_crash():
    schema = {"type": "object", "properties": {"port": {"$ref": "https://example.invalid/p.json"}}}
    details = broken(lambda: add(project_with(), template_facts(parameters=schema), parameters={"port": 1}))
    assert [d["rule"] for d in details] == ["ParametersMatchTemplate"]


def test_remove_service_rules():
    state = project_with(("db", ()), ("api", ("db",)), ("web", ("db", "api")))
    assert broken(lambda: project.decide("RemoveService", {"serviceName": "db"}, state)) == [
        {"rule": "NoDependents", "serviceName": "db", "dependents": ["api", "web"]}]
    assert [d["rule"] for d in broken(lambda: project.decide("RemoveService", {"serviceName": "x"}, state))] == [
        "ServiceExists"]
    assert project.decide("RemoveService", {"serviceName": "web"}, state) == [("ServiceRemoved",
                                                                                {"serviceName": "web"})]


CATASTROPHIC = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^(a+)+$"}}}


@pytest.mark.parametrize("parameters, path", [
    (CATASTROPHIC, "$.parameters.properties.name.pattern"),
    ({"type": "object", "properties": {"n": {"type": "array", "items": {"pattern": "(\\w+\\s?)*$"}}}},
     "$.parameters.properties.n.items.pattern"),
    ({"type": "object", "patternProperties": {"^(x+x+)+y$": {}}}, "$.parameters.patternProperties['^(x+x+)+y$']"),
    ({"type": "object", "propertyNames": {"pattern": "^(?:[a-z]*)*$"}}, "$.parameters.propertyNames.pattern"),
])
def test_validate_template_refuses_patterns_that_backtrack_exponentially(parameters, path):
    errors = template.validate_template("a: 1\n", parameters)
    assert [e["path"] for e in errors] == [path] and "exponential" in errors[0]["message"], errors


@pytest.mark.parametrize("pattern", ["^[a-z]+(-[a-z]+)*$", "^([a-z0-9]+-)*[a-z0-9]+$", "^\\d{3}-\\d{4}$", "\\S"])
def test_usual_patterns_are_accepted(pattern):
    schema = {"type": "object", "properties": {"p": {"type": "string", "pattern": pattern}}}
    assert template.validate_template("a: 1\n", schema) == []


def test_add_service_refuses_a_template_validated_before_the_pattern_check_without_running_it():
    facts = template_facts(parameters=CATASTROPHIC)
    details = broken(lambda: add(project_with(), facts, parameters={"name": "a" * 16 + "!"}))
    assert [d["rule"] for d in details] == ["ParametersMatchTemplate"] and "exponential" in details[0]["message"]


def test_add_service_evaluates_patterns_with_a_time_budget_and_without_holding_the_gil():
    """A slow pattern the shape check does not catch ((a|a)* backtracks as badly) is cut off after
    safe_patterns.MATCH_TIMEOUT, and the other threads keep running meanwhile (Python's re held the GIL)."""
    import threading
    import time

    slow = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^(a|a)*$"}},
            "patternProperties": {"^(b|b)*$": {"type": "integer"}}, "additionalProperties": False}
    assert template.validate_template("a: 1\n", slow) == []
    ticks, stop = [], threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        started = time.monotonic()
        details = broken(lambda: add(project_with(), template_facts(parameters=slow),
                                     parameters={"name": "a" * 22 + "!", "b" * 22 + "!": 1}))
        took = time.monotonic() - started
    finally:
        stop.set()
        ticker.join()
    assert {d["rule"] for d in details} == {"ParametersMatchTemplate"}
    assert all("within" in d["message"] for d in details), details
    during = [t for t in ticks if started <= t <= started + took]
    assert len(during) >= 3  # the other thread ran while the patterns were evaluated


def test_a_template_parameter_pattern_does_not_accept_a_trailing_newline():
    schema = {"type": "object", "properties": {"region": {"type": "string", "pattern": "^[a-z]+-[0-9]$"}}}
    assert add(project_with(), template_facts(parameters=schema), parameters={"region": "eu-1"})
    details = broken(lambda: add(project_with(), template_facts(parameters=schema), parameters={"region": "eu-1\n"}))
    assert [d["path"] for d in details] == ["$.data.parameters.region"]
