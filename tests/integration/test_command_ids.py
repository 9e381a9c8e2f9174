"""A client's commandId is an idempotency key for its own commands only (docs/decisions/0010): another actor that
reuses it learns nothing of the first command and cannot make it fail; records written before the key was scoped
still answer their own command."""

from __future__ import annotations

import json

import pytest

from chronicle import aws as chronicle_aws
from chronicle import errors
from chronicle.commands import decide_and_append, validate_request
from chronicle.eventstore.command_log import CommandLog, fingerprint


def run(command_type, body, actor):
    cmd = validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": actor})
    return decide_and_append(cmd, chronicle_aws.event_store(), chronicle_aws.aggregate_loader())


def create(project_id, actor, command_id="shared-key", name="P"):
    return run("CreateProject", {"aggregateId": project_id, "commandId": command_id,
                                 "data": {"name": name, "ownerId": actor}}, actor)


def test_a_stranger_reusing_a_command_id_learns_nothing_of_the_first_command(aws):
    create("project-secret-of-v", "victim")
    outcome = create("project-of-mallory", "mallory")  # the victim's key, another command: a command of its own
    assert outcome["response"]["aggregateId"] == "project-of-mallory" and not outcome.get("replayed")
    assert "victim" not in json.dumps(outcome)


def test_a_stranger_sending_a_predictable_command_id_first_does_not_make_the_victims_command_fail(aws):
    create("project-of-mallory", "mallory", command_id="predictable-1")
    outcome = create("project-of-v", "victim", command_id="predictable-1")
    assert outcome["response"]["aggregateId"] == "project-of-v" and not outcome.get("replayed")
    again = create("project-of-v", "victim", command_id="predictable-1")  # and it still replays for its actor
    assert again["replayed"] and again["response"] == outcome["response"]


def test_an_actor_reusing_its_own_key_still_gets_its_own_first_command_in_the_409(aws):
    create("project-own", "alice", command_id="k-1")
    with pytest.raises(errors.IdempotencyKeyReused) as reused:
        create("project-other", "alice", command_id="k-1", name="Other")
    assert reused.value.details == [{"commandId": "k-1", "firstCommandType": "CreateProject",
                                     "firstAggregateId": "project-own"}]


def legacy_record(command, response):
    """A record as written before decision 0010: keyed by the commandId alone."""
    store = chronicle_aws.event_store()
    item = CommandLog(store.client, store.command_table).item(command, response)
    store.client.put_item(TableName=store.command_table, Item={**item, "commandId": {"S": command["commandId"]}})


def test_a_record_written_before_scoping_still_answers_its_own_command_and_only_that(aws):
    body = {"aggregateId": "project-legacy", "commandId": "old-1", "data": {"name": "P", "ownerId": "alice"}}
    command = validate_request({"commandType": "CreateProject", "body": json.dumps(body), "actorId": "alice"})
    response = {"aggregateId": "project-legacy", "aggregateType": "Project", "version": 1, "commandId": "old-1",
                "correlationId": "c", "events": [{"eventId": "e", "eventType": "ProjectCreated",
                                                   "eventSequence": 1, "version": "2"}]}
    legacy_record(command, response)
    store = chronicle_aws.event_store()
    replayed = decide_and_append(dict(command), store, chronicle_aws.aggregate_loader())
    assert replayed["replayed"] and replayed["response"] == response
    assert store.read("project-legacy") == []  # answered from the record: nothing appended again
    outcome = run("CreateProject", {**body, "aggregateId": "project-mallory"}, "mallory")  # someone else's legacy key
    assert outcome["response"]["aggregateId"] == "project-mallory" and not outcome.get("replayed")
    assert fingerprint(command) != fingerprint({**command, "actorId": "mallory"})
