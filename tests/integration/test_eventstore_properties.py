"""Property tests of the event store's reads (issue 3, item 5), in-process moto.

- loading as of version N equals folding the first N events;
- loading with snapshots (small, random intervals) equals full replay, however the stream was appended;
- loading as of a time T equals folding the events with timestamp <= T;
- a stale snapshot (builtWith differs) is ignored, and replaced by a fresh one;
- a snapshot write that fails never fails the command;
- reads paginate past DynamoDB's 1 MB pages.
"""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
from botocore.exceptions import ClientError
from eventstore_helpers import RequestCounter, atomic_aws, changed, created  # noqa: F401 - atomic_aws is a fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronicle import aws as chronicle_aws
from chronicle.commands import decide_and_append, validate_request
from chronicle.domain import project
from chronicle.eventstore import NO_STREAM
from chronicle.eventstore.snapshots import AggregateLoader, built_with

PROJECT = project.AGGREGATE
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])

keys = st.sampled_from(["region", "tier", "owner", "cost-centre", "ttl", "flags"])
values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text("abcxyz-_ ", max_size=8),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("abc", max_size=3), inner,
                                                                                  max_size=3), max_leaves=5)


@st.composite
def configuration_change(draw):
    to_set = draw(st.dictionaries(keys, values, max_size=3))
    to_unset = draw(st.lists(keys.filter(lambda k: k not in to_set), max_size=2, unique=True))
    return changed(to_set, to_unset)


changes = st.lists(configuration_change(), min_size=0, max_size=40)


def fresh_stream(store, events):
    """A new stream holding ProjectCreated + `events`; returns its id and the events as stored."""
    stream = f"p-{uuid.uuid4()}"
    store.append(stream, [created(), *events], NO_STREAM)
    return stream, store.read(stream)


def replay(events, upto=None):
    return PROJECT.fold(events[:upto] if upto is not None else events)


@SETTINGS
@given(events=changes, data=st.data())
def test_as_of_version_equals_folding_the_first_n_events(atomic_aws, events, data):  # noqa: F811
    store = chronicle_aws.event_store()
    stream, stored = fresh_stream(store, events)
    n = data.draw(st.integers(0, len(stored) + 2), label="N")
    for loader in (AggregateLoader(store, "snapshots"), AggregateLoader(store, None)):
        loaded = loader.load(PROJECT, stream, as_of_version=n)
        assert loaded.state == replay(stored, n)
        assert loaded.version == min(n, len(stored))


@SETTINGS
@given(chunks=st.lists(st.lists(configuration_change(), min_size=1, max_size=4), max_size=15),
       every=st.integers(1, 12), loads=st.lists(st.booleans(), min_size=15, max_size=15))
def test_snapshot_load_equals_full_replay(atomic_aws, chunks, every, loads):  # noqa: F811
    """Append in chunks of 1..4 events (as commands do, with after_append), loading now and then; at the end
    and after every step the snapshot-based load equals replaying the whole stream."""
    aggregate = dataclasses.replace(PROJECT, snapshot_every=every)
    store = chronicle_aws.event_store()
    with_snapshots, without = AggregateLoader(store, "snapshots"), AggregateLoader(store, None)
    stream = f"p-{uuid.uuid4()}"
    store.append(stream, [created()], NO_STREAM)
    for chunk, load_now in zip(chunks, loads, strict=False):
        before = with_snapshots.load(aggregate, stream) if load_now else without.load(aggregate, stream)
        stored = store.append(stream, chunk, before.version)
        with_snapshots.after_append(aggregate, stream, before, stored)
    full = without.load(aggregate, stream)
    loaded = with_snapshots.load(aggregate, stream)
    assert loaded.state == full.state == replay(store.read(stream))
    assert loaded.version == full.version
    again = with_snapshots.load(aggregate, stream)  # after any load, the tail is shorter than an interval
    assert again.state == full.state and again.events_read < every
    assert (again.snapshot_version > 0) == (full.version >= every)


@st.composite
def timed_changes(draw):
    """Changes with non-decreasing timestamps, often equal (several events of one command share one)."""
    steps = draw(st.lists(st.sampled_from([0, 0, 1, 7, 1000, 60_000]), min_size=1, max_size=30))
    millis, stamps = 0, []
    for step in steps:
        millis += step
        stamps.append(millis)
    return [changed(*_change(draw), timestamp=_iso(ms)) for ms in stamps], stamps


def _change(draw):
    event = draw(configuration_change())
    return event["eventData"]["set"], event["eventData"]["unset"]


def _iso(millis):
    seconds, ms = divmod(millis, 1000)
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"2026-01-01T{hours:02d}:{m:02d}:{s:02d}.{ms:03d}Z"


@SETTINGS
@given(timed=timed_changes(), every=st.integers(1, 8), data=st.data())
def test_as_of_time_equals_folding_the_events_up_to_t(atomic_aws, timed, every, data):  # noqa: F811
    events, stamps = timed
    aggregate = dataclasses.replace(PROJECT, snapshot_every=every)
    store = chronicle_aws.event_store()
    stream = f"p-{uuid.uuid4()}"
    store.append(stream, [created(timestamp=_iso(0)), *events], NO_STREAM)
    stored = store.read(stream)
    loader = AggregateLoader(store, "snapshots")
    loader.load(aggregate, stream)  # writes a snapshot at the head when the stream is long enough
    t = data.draw(st.sampled_from(sorted({*stamps, *(s + 1 for s in stamps), *(s - 1 for s in stamps)})), label="T")
    loaded = loader.load(aggregate, stream, as_of_time=_iso(max(t, 0)))
    expected = [e for e in stored if e["timestamp"] <= _iso(max(t, 0))]
    assert loaded.state == aggregate.fold(expected)
    assert loaded.version == len(expected)


def test_a_stale_snapshot_is_ignored_and_replaced(atomic_aws):  # noqa: F811
    store = chronicle_aws.event_store()
    loader = AggregateLoader(store, "snapshots")
    aggregate = dataclasses.replace(PROJECT, snapshot_every=5)
    stream, stored = fresh_stream(store, [changed({"n": i}) for i in range(11)])
    assert loader.load(aggregate, stream).snapshot_version == 0  # 12 events read: a snapshot is written
    item = atomic_aws.get_item(TableName="snapshots", Key={"aggregateId": {"S": stream}})["Item"]
    assert item["version"]["N"] == "12" and item["builtWith"]["S"] == built_with(aggregate, store)
    # Poison it: if it were trusted, the state would show it.
    poisoned = {**item, "state": {"S": json.dumps({**replay(stored), "name": "POISON"})}}
    atomic_aws.put_item(TableName="snapshots", Item=poisoned)
    assert loader.load(aggregate, stream).state["name"] == "POISON"  # same builtWith: trusted (that is the point)

    evolved = dataclasses.replace(aggregate, state_version=aggregate.state_version + 1)
    loaded = loader.load(evolved, stream)
    assert loaded.snapshot_version == 0 and loaded.events_read == 12 and loaded.state == replay(stored)
    fresh = atomic_aws.get_item(TableName="snapshots", Key={"aggregateId": {"S": stream}})["Item"]
    assert fresh["builtWith"]["S"] == built_with(evolved, store) != item["builtWith"]["S"]
    assert json.loads(fresh["state"]["S"]) == replay(stored)
    again = loader.load(evolved, stream)
    assert again.snapshot_version == 12 and again.events_read == 0 and again.state == replay(stored)


@pytest.mark.parametrize("failure", ["ResourceNotFound", "ClientError", "RuntimeError"])
def test_a_snapshot_write_failure_never_fails_the_command(atomic_aws, monkeypatch, failure):  # noqa: F811
    store = chronicle_aws.event_store()
    stream, _ = fresh_stream(store, [changed({"n": i}) for i in range(PROJECT.snapshot_every - 2)])
    if failure == "ResourceNotFound":
        loader = AggregateLoader(store, "no-such-snapshot-table")
    else:
        loader = AggregateLoader(store, "snapshots")

        def refuse(params, **_):
            if params.get("TableName") == "snapshots":
                if failure == "RuntimeError":
                    raise RuntimeError("the snapshot writer exploded")
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "no"}},
                                  "PutItem")

        store.client.meta.events.register("before-parameter-build.dynamodb.PutItem", refuse,
                                          unique_id="refuse-snapshots")
    try:
        for i in range(4):  # crosses the snapshot interval (version 50)
            command = validate_request({"commandType": "ChangeProjectConfiguration", "actorId": "owner-1", "body": json.dumps(
                {"aggregateId": stream, "data": {"set": {"after": i}}})})
            outcome = decide_and_append(command, store, loader)
            assert outcome["response"]["version"] == PROJECT.snapshot_every + i
    finally:
        store.client.meta.events.unregister("before-parameter-build.dynamodb.PutItem", unique_id="refuse-snapshots")
    assert len(store.read(stream)) == PROJECT.snapshot_every + 3
    assert "Item" not in atomic_aws.get_item(TableName="snapshots", Key={"aggregateId": {"S": stream}})


def test_reads_paginate_past_one_megabyte_pages(atomic_aws):  # noqa: F811
    store = chronicle_aws.event_store()
    blob = "x" * (100 * 1024)
    stream, _ = fresh_stream(store, [changed({f"k{i}": blob}) for i in range(14)])
    counter = RequestCounter(store.client)
    try:
        events = store.read(stream)
        queries = counter.reset()
        tail = store.read(stream, 3, 13)
        loaded = AggregateLoader(store, None).load(PROJECT, stream)
    finally:
        counter.close()
    assert [e["eventSequence"] for e in events] == list(range(1, 16))
    assert all(e["eventData"]["set"][f"k{i}"] == blob for i, e in enumerate(events[1:]))
    assert queries == ["Query", "Query"]  # 15 events of ~100 KB: two 1 MB pages
    assert [e["eventSequence"] for e in tail] == list(range(3, 14))
    assert loaded.version == 15 and len(loaded.state["configuration"]) == 14
