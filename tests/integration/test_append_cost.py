"""The append as billed (docs/decisions/0002): one conditional PutItem for a one-event command with a server-made
commandId, the CommandLog transaction only for a client's commandId, and a retried step that still answers what
its first attempt stored (it finds its own events: the refused create's ALL_OLD item, or the events stored since
the command started), at the requests each case needs. Every successful append is followed by one PutItem of the
stream's head record (docs/decisions/0011: 1 write unit, what tamper evidence of the newest events costs)."""

from __future__ import annotations

import json
import time

import pytest
from eventstore_helpers import RequestCounter, atomic_aws  # noqa: F401 - fixture

from chronicle import aws as chronicle_aws
from chronicle.commands import decide_and_append, validate_request
from chronicle.eventstore.command_log import record_key


def command(command_type, body, actor="alice"):
    return validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": actor})


@pytest.fixture
def steps(aws):
    store, loader = chronicle_aws.event_store(), chronicle_aws.aggregate_loader()
    counter = RequestCounter(store.client)
    yield store, loader, counter
    counter.close()


def test_one_event_commands_are_one_conditional_put_and_no_command_record(steps):
    store, loader, counter = steps
    create = command("CreateProject", {"data": {"name": "P", "ownerId": "o"}})
    decide_and_append(create, store, loader)
    assert counter.reset() == ["PutItem", "PutItem"]  # the event, then the head record
    change = command("ChangeProjectConfiguration", {"aggregateId": create["aggregateId"], "expectedVersion": 1,
                                                    "data": {"set": {"a": 1}}})
    decide_and_append(change, store, loader)
    # snapshot GetItem + tail Query (the load), then one PutItem: no ConditionCheck, no transaction; the head record
    assert counter.reset() == ["GetItem", "Query", "PutItem", "PutItem"]
    assert store.client.scan(TableName="commands")["Items"] == []


def test_a_client_command_id_is_recorded_in_the_transaction_with_a_ttl(steps, monkeypatch):
    store, loader, counter = steps
    monkeypatch.setenv("IDEMPOTENCY_WINDOW_DAYS", "30")
    create = command("CreateProject", {"commandId": "client-1", "data": {"name": "P", "ownerId": "o"}})
    first = decide_and_append(dict(create), store, loader)
    assert counter.reset() == ["BatchGetItem", "TransactWriteItems", "PutItem"]  # PutItem: the head record
    record = store.client.get_item(TableName="commands", Key={"commandId": {"S": record_key("alice", "client-1")}})[
        "Item"]
    assert json.loads(record["response"]["S"]) == first["response"]
    assert 29 * 86400 < int(record["expiresAt"]["N"]) - time.time() <= 30 * 86400
    again = decide_and_append(dict(create), store, loader)
    assert again["replayed"] and again["response"] == first["response"]


def test_a_retried_create_recognises_its_event_from_the_refused_put_without_reading(steps):
    store, loader, counter = steps
    create = command("CreateProject", {"data": {"name": "P", "ownerId": "o"}})
    first = decide_and_append(dict(create), store, loader)
    counter.reset()
    again = decide_and_append(dict(create), store, loader)
    assert again["replayed"] and again["response"] == first["response"]
    assert counter.reset() == ["PutItem"]  # the refused write returned the stored event (ALL_OLD)


def test_another_create_of_the_same_id_is_still_refused(steps):
    store, loader, _ = steps
    decide_and_append(command("CreateProject", {"aggregateId": "project-1", "data": {"name": "P", "ownerId": "o"}}),
                      store, loader)
    from chronicle.errors import AggregateAlreadyExists

    with pytest.raises(AggregateAlreadyExists):
        decide_and_append(command("CreateProject", {"aggregateId": "project-1", "data": {"name": "Q", "ownerId": "o"}}),
                          store, loader)


def test_a_retried_update_finds_its_event_behind_another_writers(steps):
    store, loader, counter = steps
    decide_and_append(command("CreateProject", {"aggregateId": "project-2", "data": {"name": "P", "ownerId": "o"}}),
                      store, loader)
    mine = command("ChangeProjectConfiguration", {"aggregateId": "project-2", "data": {"set": {"mine": 1}}})
    first = decide_and_append(dict(mine), store, loader)
    other = decide_and_append(command("ChangeProjectConfiguration", {"aggregateId": "project-2",
                                                                     "data": {"set": {"theirs": 2}}}), store, loader)
    counter.reset()
    again = decide_and_append(dict(mine), store, loader)
    assert again["replayed"] and again["response"] == first["response"]
    assert again["response"]["version"] == 2 and other["response"]["version"] == 3
    assert counter.reset() == ["GetItem", "Query"]  # the load read the window: nothing more
    assert store.version("project-2") == 3


def test_a_retried_update_behind_a_fresh_snapshot_reads_back_the_window(steps):
    """The first attempt crossed a snapshot boundary, so the retry's load starts after its events."""
    store, loader, counter = steps
    decide_and_append(command("CreateProject", {"aggregateId": "project-3", "data": {"name": "P", "ownerId": "o"}}),
                      store, loader)
    for i in range(48):
        decide_and_append(command("ChangeProjectConfiguration", {"aggregateId": "project-3", "data": {"set": {"k": i}}}),
                          store, loader)
    mine = command("ChangeProjectConfiguration", {"aggregateId": "project-3", "data": {"set": {"k": "fifty"}}})
    first = decide_and_append(dict(mine), store, loader)
    assert first["response"]["version"] == 50  # after_append took a snapshot at 50
    counter.reset()
    again = decide_and_append(dict(mine), store, loader)
    assert again["replayed"] and again["response"] == first["response"]
    calls = counter.reset()  # snapshot, empty tail, then the window read backwards (here: all 50 events, 2 pages)
    assert calls[:2] == ["GetItem", "Query"] and set(calls[2:]) == {"Query"}
    assert store.version("project-3") == 50


def test_a_first_attempt_on_a_busy_stream_reads_nothing_back(steps):
    """The step's first attempt (Step Functions' RetryCount 0) cannot find events of a commandId made for its own
    execution: no backwards Query, however many events the window holds behind a snapshot. A retry still looks."""
    store, loader, counter = steps
    decide_and_append(command("CreateProject", {"aggregateId": "project-6", "data": {"name": "P", "ownerId": "o"}}),
                      store, loader)
    for i in range(50):  # a snapshot at 50, inside the window of the next command
        decide_and_append(command("ChangeProjectConfiguration", {"aggregateId": "project-6", "data": {"set": {"k": i}}}),
                          store, loader)
    mine = command("ChangeProjectConfiguration", {"aggregateId": "project-6", "data": {"set": {"k": "mine"}}})
    counter.reset()
    first = decide_and_append(dict(mine), store, loader, attempt=0)
    assert counter.reset() == ["GetItem", "Query", "PutItem", "PutItem"]
    again = decide_and_append(dict(mine), store, loader, attempt=1)
    assert again["replayed"] and again["response"] == first["response"]
    assert counter.reset().count("Query") >= 2  # the tail, then the window read backwards
    assert store.version("project-6") == 52


def test_a_stream_untouched_since_the_command_started_costs_no_extra_read(steps):
    store, loader, counter = steps
    decide_and_append(command("CreateProject", {"aggregateId": "project-4", "data": {"name": "P", "ownerId": "o"}}),
                      store, loader)
    change = command("ChangeProjectConfiguration", {"aggregateId": "project-4", "data": {"set": {"a": 1}}})
    change["startedAt"] = "2999-01-01T00:00:00.000Z"  # the head is older than the command: no attempt before
    counter.reset()
    assert not decide_and_append(change, store, loader).get("replayed")
    assert counter.reset() == ["GetItem", "Query", "PutItem", "PutItem"]
