"""Templates and services through their workflow steps on moto: body storage, validation facts, the named rules,
and the cross-aggregate race (a template change between AddService's check and its append)."""

from __future__ import annotations

import boto3
import pytest
from template_steps import (WEB, WEB_BODY, add_service, append, change_parameters, command, create_project, facts,
                            upload, validate_after)

from chronicle import aws as chronicle_aws
from chronicle.errors import BusinessRuleViolation, PayloadTooLarge, StreamContention, ValidationError
from chronicle.template_bodies import store_body


def rules(caught) -> list[str]:
    return [d["rule"] for d in caught.value.details]


def test_upload_stores_the_body_once_by_hash_and_validates(aws):
    first = upload()
    second = upload()
    assert [e["eventType"] for e in first["response"]["events"]] == ["TemplateUploaded", "TemplateValidated"]
    assert first["response"]["version"] == 2 and first["stream"] == {
        "aggregateId": first["response"]["aggregateId"], "fromSequence": 1, "toSequence": 2}
    store = chronicle_aws.event_store()
    uploaded, validated = store.read(first["response"]["aggregateId"])
    assert "body" not in uploaded["eventData"] and WEB_BODY not in str(uploaded)
    assert uploaded["eventData"]["bodyKey"] == f"templates/{uploaded['eventData']['bodySha256']}"
    assert validated["eventData"] == {"valid": True, "errors": []}
    objects = boto3.client("s3").list_objects_v2(Bucket="chronicle-templates")["Contents"]
    assert [o["Key"] for o in objects] == [uploaded["eventData"]["bodyKey"]]  # two uploads, one object
    assert second["response"]["aggregateId"] != first["response"]["aggregateId"]


def test_an_invalid_template_is_recorded_not_refused(aws):
    outcome = upload({"name": "broken", "body": "a: [\n  ${{ parameters.port }}\n",
                      "parameters": {"type": "string", "minLength": -1}})
    validated = chronicle_aws.event_store().read(outcome["response"]["aggregateId"])[-1]["eventData"]
    assert validated["valid"] is False
    paths = sorted(e["path"] for e in validated["errors"])
    assert paths == ["$.body", "$.body", "$.parameters.minLength", "$.parameters.type"]


def test_body_limits_are_checked_before_anything_is_stored(aws):
    with pytest.raises(PayloadTooLarge):
        store_body(command("UploadTemplate", {"data": {"name": "x", "body": "é" * 40000, "parameters": {}}}),
                   chronicle_aws.template_bodies())
    with pytest.raises(ValidationError):
        store_body(command("UploadTemplate", {"data": {"name": "x", "body": "a\x00b", "parameters": {}}}),
                   chronicle_aws.template_bodies())
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket="chronicle-templates")


def test_a_replayed_upload_answers_both_events_again_and_stores_nothing(aws):
    first = upload(commandId="upload-1")
    again = upload(commandId="upload-1")
    assert again["response"] == first["response"]
    assert len(chronicle_aws.event_store().read(first["response"]["aggregateId"])) == 2


def test_add_service_records_the_template_version_it_checked(aws):
    template_id = upload()["response"]["aggregateId"]
    project_id = create_project()
    add_service(project_id, "db", template_id, {"replicas": 1})
    [_, added] = chronicle_aws.event_store().read(project_id)
    assert added["eventData"] == {"serviceName": "db", "templateId": template_id, "templateVersion": 2,
                                  "parameters": {"replicas": 1}, "dependsOn": []}


def test_each_add_service_rule_is_named(aws):
    template_id = upload()["response"]["aggregateId"]
    project_id = create_project()
    add_service(project_id, "db", template_id, {"replicas": 1})
    cases = [
        ({"serviceName": "db", "templateId": template_id, "parameters": {"replicas": 1}}, ["ServiceNameUnique"]),
        ({"serviceName": "api", "templateId": "no-such-template", "parameters": {}}, ["TemplateExists"]),
        ({"serviceName": "api", "templateId": template_id, "parameters": {"replicas": 0}},
         ["ParametersMatchTemplate"]),
        ({"serviceName": "api", "templateId": template_id, "parameters": {"replicas": 1}, "dependsOn": ["cache"]},
         ["DependenciesExist"]),
    ]
    for data, expected in cases:
        with pytest.raises(BusinessRuleViolation) as caught:
            append(facts(command("AddService", {"aggregateId": project_id, "data": data})))
        assert rules(caught) == expected, data
    # a template whose parameters changed and was not validated since cannot be used
    change_parameters(template_id, {"type": "object"}, validate=False)
    with pytest.raises(BusinessRuleViolation) as caught:
        add_service(project_id, "api", template_id, {})
    assert rules(caught) == ["TemplateValidated"]
    # nor one whose latest validation failed
    bad = upload({"name": "bad", "body": "x: ${{ parameters.nope }}", "parameters": {"type": "object"}})
    with pytest.raises(BusinessRuleViolation) as caught:
        add_service(project_id, "api", bad["response"]["aggregateId"], {})
    assert rules(caught) == ["TemplateValidated"]
    assert len(chronicle_aws.event_store().read(project_id)) == 2  # nothing stored by any refusal


def test_remove_service_rules(aws):
    template_id = upload()["response"]["aggregateId"]
    project_id = create_project()
    add_service(project_id, "db", template_id, {"replicas": 1})
    add_service(project_id, "api", template_id, {"replicas": 2}, ["db"])
    with pytest.raises(BusinessRuleViolation) as caught:
        append(command("RemoveService", {"aggregateId": project_id, "data": {"serviceName": "db"}}))
    assert caught.value.details == [{"rule": "NoDependents", "serviceName": "db", "dependents": ["api"]}]
    with pytest.raises(BusinessRuleViolation) as caught:
        append(command("RemoveService", {"aggregateId": project_id, "data": {"serviceName": "cache"}}))
    assert rules(caught) == ["ServiceExists"]
    append(command("RemoveService", {"aggregateId": project_id, "data": {"serviceName": "api"}}))
    append(command("RemoveService", {"aggregateId": project_id, "data": {"serviceName": "db"}}))
    assert chronicle_aws.aggregate_loader().load(__import__("chronicle.domain", fromlist=["AGGREGATES"])
                                                 .AGGREGATES["Project"], project_id).state["services"] == {}


@pytest.mark.parametrize("validated_in_between", [True, False])
def test_a_template_change_between_check_and_append_cannot_let_a_stale_service_through(aws, validated_in_between):
    """AddService's facts are loaded (old schema: replicas), then ChangeTemplateParameters lands (new schema: size
    required), then the append: the ConditionCheck on the template stream refuses it, and the re-loaded facts
    refuse the service."""
    template_id = upload()["response"]["aggregateId"]
    project_id = create_project()
    stale = facts(command("AddService", {"aggregateId": project_id, "data": {
        "serviceName": "api", "templateId": template_id, "parameters": {"replicas": 2}}}))
    assert stale["facts"]["checks"] == [{"aggregateId": template_id, "version": 2}]

    new_schema = {"type": "object", "properties": {"replicas": {"type": "integer"}, "size": {"type": "string"}},
                  "required": ["size"]}
    change_parameters(template_id, new_schema, validate=validated_in_between)

    with pytest.raises(StreamContention) as contended:
        append(stale)  # valid against the old schema only: the append must not happen
    assert contended.value.details == [{"aggregateId": template_id, "readVersion": 2}]
    assert len(chronicle_aws.event_store().read(project_id)) == 1

    # the workflow's retry: LoadFacts again, decide again
    with pytest.raises(BusinessRuleViolation) as caught:
        append(facts(stale))
    assert rules(caught) == (["ParametersMatchTemplate"] if validated_in_between else ["TemplateValidated"])
    assert len(chronicle_aws.event_store().read(project_id)) == 1


def test_validation_facts_about_an_older_version_are_loaded_again(aws):
    outcome = upload()
    template_id = outcome["response"]["aggregateId"]
    cmd = command("ValidateTemplate", {"aggregateId": template_id, "data": {}})
    stale = facts(cmd)
    change_parameters(template_id, {"type": "object"}, validate=False)
    with pytest.raises(StreamContention):
        append(stale)
    fresh = append(facts(cmd))
    assert fresh["response"]["version"] == 4


def test_validate_after_a_change_answers_both_events(aws):
    template_id = upload()["response"]["aggregateId"]
    cmd = command("ChangeTemplateParameters", {"aggregateId": template_id, "data": {"parameters": WEB}})
    outcome = validate_after(cmd, append(cmd))
    assert [e["eventType"] for e in outcome["response"]["events"]] == ["TemplateParametersChanged",
                                                                       "TemplateValidated"]
    assert outcome["response"]["commandId"] == cmd["commandId"] and outcome["stream"]["fromSequence"] == 3


def test_append_checks_hold_other_streams_at_their_version(aws):
    from eventstore_helpers import record

    from chronicle.eventstore import NO_STREAM
    from chronicle.eventstore.store import FactsChanged

    store = chronicle_aws.event_store()
    created = {"name": "P", "ownerId": "o", "visibility": "private"}
    store.append("other", [record("ProjectCreated", created)], NO_STREAM)
    store.append("mine", [record("ProjectCreated", created)], NO_STREAM)
    changed = {"set": {"a": 1}, "unset": []}
    store.append("mine", [record("ProjectConfigurationChanged", changed)], 1,
                 checks=[{"aggregateId": "other", "version": 1}, {"aggregateId": "mine", "version": 1}])
    store.append("other", [record("ProjectConfigurationChanged", changed)], 1)
    with pytest.raises(FactsChanged) as moved:
        store.append("mine", [record("ProjectConfigurationChanged", changed)], 2,
                     checks=[{"aggregateId": "other", "version": 1}])
    assert moved.value.checks == [{"aggregateId": "other", "version": 1}]
    assert store.version("mine") == 2  # nothing written
