"""A ProjectCreated v1 stored before v2 existed is read as v2 everywhere: the event store, the projection, the
temporal query, the GraphQL history, and the decider of the next command; the stored item keeps version "1"."""

from __future__ import annotations

import json

from chronicle import aws as chronicle_aws
from chronicle import queries
from chronicle.commands import decide_and_append, validate_request
from chronicle.eventstore import NO_STREAM
from chronicle.projections import project as project_projection


def store_v1_project(project_id: str = "legacy-1") -> dict:
    record = {"eventId": "00000000-0000-4000-8000-000000000001", "eventType": "ProjectCreated",
              "eventData": {"name": "Legacy", "description": "made before visibility existed", "ownerId": "bob"},
              "correlationId": "00000000-0000-4000-8000-000000000002", "timestamp": "2025-01-01T00:00:00.000Z",
              "version": "1", "metadata": {"aggregateType": "Project", "commandId": "c-1",
                                           "commandType": "CreateProject", "actorId": "bob", "causationId": "c-1"}}
    [stored] = chronicle_aws.event_store().append(project_id, [record], NO_STREAM)
    return stored


def test_the_stored_item_keeps_version_1(aws):
    store_v1_project()
    item = aws.get_item(TableName="events", Key={"aggregateId": {"S": "legacy-1"}, "eventSequence": {"N": "1"}})
    assert item["Item"]["version"]["S"] == "1"
    assert "visibility" not in json.loads(item["Item"]["eventData"]["S"])
    raw = chronicle_aws.event_store().read("legacy-1", upcast=False)
    assert raw[0]["version"] == "1" and "storedVersion" not in raw[0]


def test_event_store_read_upcasts(aws):
    store_v1_project()
    [event] = chronicle_aws.event_store().read("legacy-1")
    assert event["version"] == "2" and event["storedVersion"] == "1"
    assert event["eventData"]["visibility"] == "private"


def test_projection_and_queries_see_v2(aws):
    published = store_v1_project()  # what EventBridge delivers: the record as stored, version "1"
    project_projection.apply(published, chronicle_aws.event_store(), "projects")
    with queries.acting_as("bob"):  # the owner: the project is private
        see_v2()


def see_v2():
    read = queries.project("legacy-1")
    assert read["name"] == "Legacy" and read["visibility"] == "private" and read["version"] == 1

    [entry] = queries.history("legacy-1")
    assert entry["version"] == "2" and entry["storedVersion"] == "1"
    assert json.loads(entry["data"])["visibility"] == "private"

    assert queries.projectAt("legacy-1", version=1)["visibility"] == "private"


def test_a_command_on_a_v1_project_decides_on_the_upcast_state(aws):
    store_v1_project()
    command = validate_request({"commandType": "ChangeProjectConfiguration", "actorId": "bob",
                                "body": json.dumps({"aggregateId": "legacy-1", "expectedVersion": 1,
                                                    "data": {"set": {"tier": "gold"}}})})
    outcome = decide_and_append(command, chronicle_aws.event_store(), chronicle_aws.aggregate_loader())
    assert outcome["response"]["version"] == 2
    versions = [(e["eventType"], e["version"], e.get("storedVersion")) for e in chronicle_aws.event_store().read("legacy-1")]
    assert versions == [("ProjectCreated", "2", "1"), ("ProjectConfigurationChanged", "1", None)]
