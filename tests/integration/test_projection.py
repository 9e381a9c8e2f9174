"""The project read model under EventBridge's delivery: at least once, in any order, by racing projector instances,
and with a projector that crashes half way. Whatever happens, the read model ends equal to folding the stream."""

from __future__ import annotations

import json
import random
import threading
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from chronicle import aws as chronicle_aws
from chronicle.domain import project as project_domain
from chronicle.eventstore.store import NO_STREAM
from chronicle.projections import project as projection
from eventstore_helpers import atomic_aws, changed, created  # noqa: F401 - fixture

TABLE = "projects"


def _stream(store, aggregate_id: str, changes: int = 9) -> list[dict]:
    events = [created("Read model")] + [changed({f"k{i}": i}, [f"k{i - 1}"] if i % 3 == 0 else None)
                                        for i in range(changes)]
    return store.append(aggregate_id, events, NO_STREAM)


def _folded(store, aggregate_id: str) -> dict:
    state = project_domain.initial_state()
    for event in store.read(aggregate_id):
        state = project_domain.evolve(state, event)
    return state


def _read_model(aws, aggregate_id: str) -> dict:
    item = aws.get_item(TableName=TABLE, Key={"id": {"S": aggregate_id}}, ConsistentRead=True)["Item"]
    return projection.from_item(item)


def _comparable(state: dict) -> dict:
    keys = ("version", "name", "ownerId", "visibility", "services", "configuration", "createdAt", "updatedAt")
    return {k: state[k] for k in keys}


def test_every_event_delivered_twice_is_applied_once(aws):
    store = chronicle_aws.event_store()
    events = _stream(store, "p-dup")
    results = [projection.apply(e, store, TABLE) for e in events for _ in range(2)]
    assert [r.skipped for r in results] == [False, True] * len(events)
    assert _comparable(_read_model(aws, "p-dup")) == _comparable(_folded(store, "p-dup"))


def test_events_in_reverse_order_fill_the_gap_from_the_store(aws):
    store = chronicle_aws.event_store()
    events = _stream(store, "p-rev")
    first = projection.apply(events[-1], store, TABLE)
    assert (first.applied, first.version) == (len(events), len(events))
    assert all(projection.apply(e, store, TABLE).skipped for e in reversed(events[:-1]))
    assert _comparable(_read_model(aws, "p-rev")) == _comparable(_folded(store, "p-rev"))


def test_an_event_the_store_does_not_hold_yet_fails_and_writes_nothing(aws):
    store = chronicle_aws.event_store()
    events = _stream(store, "p-ahead", changes=1)
    ahead = dict(events[-1], eventSequence=5)  # published before events 3 and 4 can be read (cannot happen, but)
    with pytest.raises(RuntimeError, match="no events"):
        projection.apply(ahead, store, TABLE)
    assert "Item" not in aws.get_item(TableName=TABLE, Key={"id": {"S": "p-ahead"}})
    # EventBridge retries; once the order is right the model catches up.
    assert projection.apply(events[-1], store, TABLE).version == 2


def test_event_without_data_is_read_from_the_store(aws):
    store = chronicle_aws.event_store()
    events = _stream(store, "p-big", changes=1)
    for event in events:
        slim = {k: v for k, v in event.items() if k != "eventData"} | {"eventDataOmitted": True}
        projection.apply(slim, store, TABLE)
    assert _comparable(_read_model(aws, "p-big")) == _comparable(_folded(store, "p-big"))


def test_a_projector_that_crashes_before_its_write_leaves_the_model_as_it_was(aws):
    store = chronicle_aws.event_store()
    events = _stream(store, "p-crash", changes=4)
    for event in events[:2]:
        projection.apply(event, store, TABLE)
    before = _read_model(aws, "p-crash")
    boom = ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "PutItem")
    with mock.patch.object(store.client, "put_item", side_effect=boom), pytest.raises(ClientError):
        projection.apply(events[4], store, TABLE)  # a gap of three events, then the crash
    assert _read_model(aws, "p-crash") == before
    for event in events[2:]:  # redelivery, in order this time
        projection.apply(event, store, TABLE)
    assert _comparable(_read_model(aws, "p-crash")) == _comparable(_folded(store, "p-crash"))


def test_racing_projectors_with_shuffled_duplicate_deliveries_converge(atomic_aws):  # noqa: F811
    store = chronicle_aws.event_store()
    streams = {f"p-race-{n}": _stream(store, f"p-race-{n}", changes=24) for n in range(3)}
    deliveries = [e for events in streams.values() for e in events] * 3
    random.Random(7).shuffle(deliveries)
    chunks = [deliveries[i::8] for i in range(8)]
    errors: list[BaseException] = []

    def deliver(chunk):
        for event in chunk:
            try:
                projection.apply(event, store, TABLE, attempts=50)
            except BaseException as error:  # noqa: BLE001 - collected and asserted below
                errors.append(error)

    threads = [threading.Thread(target=deliver, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for aggregate_id in streams:
        model = _read_model(atomic_aws, aggregate_id)
        assert _comparable(model) == _comparable(_folded(store, aggregate_id))
        assert json.dumps(model["configuration"], sort_keys=True) == json.dumps(
            _folded(store, aggregate_id)["configuration"], sort_keys=True)
