"""The three command steps against moto: validate -> decide and append -> publish, and the read side."""

from __future__ import annotations

import json

import pytest

from chronicle import aws as chronicle_aws
from chronicle import errors, queries
from chronicle.commands import decide_and_append, publish, validate_request
from chronicle.projections import project as project_projection


def run(command_type, body, actor="alice"):
    command = validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": actor})
    return decide_and_append(command, chronicle_aws.event_store(), chronicle_aws.aggregate_loader())


def test_create_then_change_configuration_and_read_back(aws):
    created = run("CreateProject", {"data": {"name": "Payments", "ownerId": "alice"}})
    project_id = created["response"]["aggregateId"]
    assert created["response"]["version"] == 1
    assert created["response"]["events"][0]["eventType"] == "ProjectCreated"
    assert created["events"][0]["metadata"]["actorId"] == "alice"

    changed = run("ChangeProjectConfiguration",
                  {"aggregateId": project_id, "expectedVersion": 1, "data": {"set": {"region": "eu-west-1"}}})
    assert changed["response"]["version"] == 2

    store = chronicle_aws.event_store()
    for outcome in (created, changed):
        for event in outcome["events"]:
            project_projection.apply(event, store, "projects")
    assert queries.project(project_id) is None  # a private project: not for anonymous callers
    with queries.acting_as("alice"):
        read = queries.project(project_id)
        assert read["name"] == "Payments" and read["version"] == 2
        assert json.loads(read["configuration"]) == {"region": "eu-west-1"}
        assert [e["eventType"] for e in queries.history(project_id)] == ["ProjectCreated",
                                                                         "ProjectConfigurationChanged"]
        assert queries.projectAt(project_id, version=1)["configuration"] == "{}"


def test_publish_puts_every_event_on_the_bus(aws):
    outcome = run("CreateProject", {"data": {"name": "Docs", "ownerId": "bob"}})
    assert publish(outcome, chronicle_aws.event_store(), chronicle_aws.client("events"), "chronicle-events") == {
        "published": 1}


@pytest.mark.parametrize("body, code, path", [
    ("not json", "ValidationError", "$"),
    ({"data": {"ownerId": "a"}}, "ValidationError", "$.data"),
    ({"data": {"name": "", "ownerId": "a"}}, "ValidationError", "$.data.name"),
    ({"data": {"name": "x", "ownerId": "a"}, "expectedversion": 1}, "ValidationError", "$"),
    # JSON can escape a lone surrogate; it is not Unicode and no store can encode it (found by test_local_fuzz)
    ('{"data": {"name": "\\ud800", "ownerId": "a"}}', "ValidationError", "$.data.name"),
    ('{"data": {"name": "x", "ownerId": "a", "description": "ok \\udfff"}}', "ValidationError",
     "$.data.description"),
    ('{"data": {"name": "x", "ownerId": "a"}, "\\ud800": 1}', "ValidationError", "$"),
])
def test_bad_requests_are_validation_errors_with_paths(aws, body, code, path):
    raw = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(errors.ChronicleError) as caught:
        validate_request({"commandType": "CreateProject", "body": raw})
    assert caught.value.code == code
    assert path in [d["path"] for d in caught.value.details]


def test_create_twice_with_the_same_id_is_refused(aws):
    run("CreateProject", {"aggregateId": "project-1", "data": {"name": "A", "ownerId": "a"}})
    with pytest.raises(errors.AggregateAlreadyExists):
        run("CreateProject", {"aggregateId": "project-1", "data": {"name": "B", "ownerId": "a"}})


def test_idempotent_replay_and_key_reuse(aws):
    body = {"commandId": "c-1", "data": {"name": "A", "ownerId": "a"}, "aggregateId": "project-2"}
    first = run("CreateProject", body)
    again = run("CreateProject", body)
    assert again["response"] == first["response"] and again["replayed"]
    assert again["stream"] == {"aggregateId": "project-2", "fromSequence": 1, "toSequence": 1}
    assert len(chronicle_aws.event_store().read("project-2")) == 1
    with pytest.raises(errors.IdempotencyKeyReused):
        run("CreateProject", {**body, "data": {"name": "other", "ownerId": "a"}})


def test_update_of_missing_stream_and_stale_expected_version(aws):
    with pytest.raises(errors.AggregateNotFound):
        run("ChangeProjectConfiguration", {"aggregateId": "nope", "data": {"set": {"a": 1}}})
    run("CreateProject", {"aggregateId": "project-3", "data": {"name": "A", "ownerId": "a"}})
    with pytest.raises(errors.ConcurrencyConflict):
        run("ChangeProjectConfiguration", {"aggregateId": "project-3", "expectedVersion": 5, "data": {"set": {"a": 1}}})
    with pytest.raises(errors.BusinessRuleViolation):
        run("ChangeProjectConfiguration", {"aggregateId": "project-3", "data": {}})


@pytest.mark.parametrize("body", [
    {"data": {"name": "A", "ownerId": "a"}},  # create, server-made ids
    {"aggregateId": "project-retry", "data": {"set": {"tier": "gold"}}},  # change, no expectedVersion
    {"aggregateId": "project-retry", "expectedVersion": 1, "data": {"set": {"tier": "gold"}}},  # change, pinned
])
def test_a_step_run_again_after_its_answer_was_lost_stores_nothing_twice(aws, body):
    """Step Functions retries DecideAndAppend on Lambda service errors with the same input (same commandId):
    the second attempt must answer what the first stored, not a conflict, and append nothing."""
    store, loader = chronicle_aws.event_store(), chronicle_aws.aggregate_loader()
    run("CreateProject", {"aggregateId": "project-retry", "data": {"name": "R", "ownerId": "r"}})
    command_type = "CreateProject" if "aggregateId" not in body else "ChangeProjectConfiguration"
    command = validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": "alice"})
    assert command["idempotent"] is False  # the client gave no commandId
    first = decide_and_append(dict(command), store, loader)
    again = decide_and_append(dict(command), store, loader)
    assert again["response"] == first["response"]
    assert store.version(command["aggregateId"]) == first["response"]["version"]
