"""Size and limits of an append, and what one append costs in DynamoDB requests (issue 3, items 1 and 6).

- an event over DynamoDB's 400 KB item limit -> PayloadTooLarge, nothing written, no request sent;
- more events than one transaction holds (101 records) -> PayloadTooLarge before any request;
- one DynamoDB request per append when the expected version is known (PutItem for the first event of a stream,
  else TransactWriteItems: the events, the check that the expected event exists, the command-log record),
  counted with botocore's before-call event;
- an expected version beyond the stream's end is a conflict, never a gap.
"""

from __future__ import annotations

import json

import pytest
from eventstore_helpers import RequestCounter, atomic_aws, changed, created  # noqa: F401 - atomic_aws is a fixture

from chronicle import aws as chronicle_aws
from chronicle import errors
from chronicle.commands import decide_and_append, validate_request
from chronicle.eventstore import ANY, NO_STREAM
from chronicle.eventstore.items import MAX_ITEM_BYTES


@pytest.fixture
def store(atomic_aws):  # noqa: F811
    store = chronicle_aws.event_store()
    store.append("p-1", [created()], NO_STREAM)
    counter = RequestCounter(store.client)
    store.counter = counter
    yield store
    counter.close()


def test_an_event_over_400_kb_is_refused_before_any_write(store):
    huge = changed({"blob": "x" * MAX_ITEM_BYTES})
    with pytest.raises(errors.PayloadTooLarge) as caught:
        store.append("p-1", [changed({"small": 1}), huge], 1)
    assert caught.value.details[0]["eventIndex"] == 1 and caught.value.details[0]["bytes"] > MAX_ITEM_BYTES
    assert store.counter.reset() == []  # refused before any request
    assert len(store.read("p-1")) == 1


def test_an_event_of_390_kb_is_stored(store):
    event = changed({"blob": "x" * (390 * 1024)})
    store.append("p-1", [event], 1)
    assert store.read("p-1")[1]["eventData"]["set"]["blob"] == event["eventData"]["set"]["blob"]


@pytest.mark.parametrize("events", [1, 2])
def test_an_event_dynamodb_refuses_as_too_large_is_payload_too_large(store, events):
    """Between moto's limit (405,000 bytes) and AWS's documented one (409,600), our estimate lets an event through
    and DynamoDB refuses it with a ValidationException: that is still a 413 with nothing written, not a 500."""
    big = changed({"blob": "x" * 406_000})
    with pytest.raises(errors.PayloadTooLarge):
        store.append("p-1", [changed({"n": i}) for i in range(events - 1)] + [big], 1)
    assert len(store.read("p-1")) == 1


def test_more_events_than_one_transaction_holds_is_refused_before_any_write(store):
    with pytest.raises(errors.PayloadTooLarge) as caught:
        store.append("p-1", [changed({"n": i}) for i in range(101)], 1)
    assert caught.value.details == [{"events": 101, "bytes": caught.value.details[0]["bytes"]}]
    assert store.counter.reset() == []
    assert len(store.read("p-1")) == 1
    # a new stream takes 100 events; after version N, 99 (the 100th action checks that event N exists)
    store.append("p-100", [created()] + [changed({"n": i}) for i in range(99)], NO_STREAM)
    assert len(store.read("p-100")) == 100
    store.append("p-1", [changed({"n": i}) for i in range(99)], 1)
    assert len(store.read("p-1")) == 100
    with pytest.raises(errors.PayloadTooLarge):
        store.append("p-1", [changed({"n": i}) for i in range(99)], 100,
                     command_record={"commandId": {"S": "c"}, "fingerprint": {"S": "f"}})


def test_a_command_whose_event_is_too_large_is_413_and_writes_nothing(store):
    """A request body over 256 KiB is refused by ValidateCommand already (Step Functions' input limit); the
    AppendEvents step checks again whatever reaches it (a direct invoke, a decider that adds data)."""
    command = validate_request({"commandType": "ChangeProjectConfiguration", "actorId": "owner-1", "body": json.dumps(
        {"aggregateId": "p-1", "commandId": "big-1", "data": {"set": {"blob": "y"}}})})
    # (a configuration that big is refused earlier, by the ConfigurationTooLarge rule: unsetting 1,700 long keys is
    # a legal decision whose event is still over DynamoDB's item limit)
    command["data"] = {"set": {}, "unset": [f"{i:05d}" + "k" * 245 for i in range(1700)]}
    with pytest.raises(errors.PayloadTooLarge) as caught:
        decide_and_append(command, store, chronicle_aws.aggregate_loader())
    assert caught.value.status == 413
    assert not any(call in ("PutItem", "TransactWriteItems") for call in store.counter.reset())
    assert len(store.read("p-1")) == 1
    assert "Item" not in store.client.get_item(TableName="commands", Key={"commandId": {"S": "big-1"}})


@pytest.mark.parametrize("events, command_record, expected_calls", [
    (1, False, ["TransactWriteItems"]),  # the event and the check that event 1 exists
    (2, False, ["TransactWriteItems"]),
    (1, True, ["TransactWriteItems"]),
    (5, True, ["TransactWriteItems"]),
])
def test_one_request_per_append_when_the_expected_version_is_known(store, events, command_record, expected_calls):
    record = {"commandId": {"S": "c-1"}, "fingerprint": {"S": "f"}} if command_record else None
    head_hash = store.read("p-1")[0]["hash"]  # a caller that loaded the stream knows it (Loaded.head_hash)
    store.counter.reset()
    store.append("p-1", [changed({"n": i}) for i in range(events)], 1, record, previous_hash=head_hash)
    assert store.counter.reset() == expected_calls
    assert len(store.read("p-1")) == 1 + events


def test_an_exact_version_without_the_previous_hash_reads_it_once(store):
    store.counter.reset()
    stored = store.append("p-1", [changed({"n": 1})], 1)
    assert store.counter.reset() == ["GetItem", "TransactWriteItems"]
    assert stored[0]["hash"] == store.read("p-1")[1]["hash"]


def test_a_new_stream_of_one_event_is_one_put_item(store):
    store.counter.reset()
    store.append("p-new", [created()], NO_STREAM)
    assert store.counter.reset() == ["PutItem"]


def test_an_expected_version_from_the_future_is_a_conflict_not_a_gap(store):
    from chronicle.eventstore import AppendConflict

    for events in (1, 3):
        with pytest.raises(AppendConflict):
            store.append("p-1", [changed({"n": i}) for i in range(events)], 5)
    with pytest.raises(AppendConflict):
        store.append("p-1", [changed({"n": 1})], 2, command_record={"commandId": {"S": "c-9"}, "fingerprint": {"S": "f"}})
    assert [e["eventSequence"] for e in store.read("p-1")] == [1]
    assert "Item" not in store.client.get_item(TableName="commands", Key={"commandId": {"S": "c-9"}})


def test_any_version_costs_one_more_query(store):
    store.counter.reset()
    store.append("p-1", [changed({"n": 1})], ANY)
    assert store.counter.reset() == ["Query", "PutItem"]
