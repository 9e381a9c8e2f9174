"""Threads racing on shared streams through the store API (issue 3, item 5).

16 threads x 100 successful appends over 4 streams: each thread reads the version, appends one or two events
with that expected version, and retries on AppendConflict. Afterwards every stream must hold 1..N with no gap
and no duplicate, N must equal the events of the reported successes, every success must be stored as reported,
and every conflict must have had a real winner at the sequence it wanted.

These run with `atomic_aws`: moto alone does not make conditional writes atomic under threads
(tests/integration/test_moto_atomic.py shows it).
"""

from __future__ import annotations

import json
import random
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from eventstore_helpers import atomic_aws, changed, created  # noqa: F401 - atomic_aws is a fixture

from chronicle import aws as chronicle_aws
from chronicle import errors
from chronicle.commands import decide_and_append, validate_request
from chronicle.eventstore import AppendConflict

THREADS, APPENDS, STREAMS = 16, 100, 4


@pytest.fixture
def fast_switching():
    """Switch threads often, so that races have every chance to show."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(before)


def _race(store, streams, threads=THREADS, appends=APPENDS, seed=0):
    barrier = threading.Barrier(threads)

    def worker(index):
        rng = random.Random(seed * 1000 + index)
        successes, conflicts = [], []
        barrier.wait()
        while len(successes) < appends:
            stream = rng.choice(streams)
            expected = store.version(stream)
            batch = [changed({f"t{index}": len(successes), "n": k}) for k in range(rng.choice((1, 2)))]
            try:
                stored = store.append(stream, batch, expected)
            except AppendConflict:
                conflicts.append((stream, expected, [e["eventId"] for e in batch]))
                continue
            successes.append((stream, [(e["eventId"], e["eventSequence"]) for e in stored]))
        return successes, conflicts

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, range(threads)))
    successes = [s for ok, _ in results for s in ok]
    conflicts = [c for _, lost in results for c in lost]
    return successes, conflicts


@pytest.mark.slow
def test_racing_appends_never_both_win_lose_or_gap(atomic_aws, fast_switching):  # noqa: F811
    store = chronicle_aws.event_store()
    streams = [f"race-{i}" for i in range(STREAMS)]
    for stream in streams:
        store.append(stream, [created(stream)], "no-stream")

    successes, conflicts = _race(store, streams)

    assert len(successes) == THREADS * APPENDS
    stored = {stream: store.read(stream) for stream in streams}
    by_id = {e["eventId"]: e for events in stored.values() for e in events}
    appended = Counter()
    for stream, events in successes:
        appended[stream] += len(events)
        for event_id, sequence in events:  # every reported success is stored, where it was reported
            assert by_id[event_id]["aggregateId"] == stream
            assert by_id[event_id]["eventSequence"] == sequence
    for stream, events in stored.items():
        sequences = [e["eventSequence"] for e in events]
        assert sequences == list(range(1, len(events) + 1)), f"gap or duplicate in {stream}"
        assert len(events) == 1 + appended[stream]  # ProjectCreated + the successes, nothing else
        assert len({e["eventId"] for e in events}) == len(events)
    for stream, expected, event_ids in conflicts:  # every loser lost to a real winner
        winner = next(e for e in stored[stream] if e["eventSequence"] == expected + 1)
        assert winner["eventId"] not in event_ids
        assert all(event_id not in by_id for event_id in event_ids)
    print(f"\n{len(successes)} successful appends ({sum(appended.values())} events), {len(conflicts)} conflicts")


# ---- idempotency races through decide_and_append -------------------------------------------------------------
def _command(command_type, body, actor="owner-1"):  # the owner of created()
    return validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": actor})


def _same_command_from(threads, command_type, body, actor="owner-1"):
    barrier = threading.Barrier(threads)

    def send(_):
        command = _command(command_type, body, actor)
        barrier.wait()
        try:
            return decide_and_append(command, chronicle_aws.event_store(), chronicle_aws.aggregate_loader())
        except errors.ChronicleError as error:  # StreamContention would be retried by the state machine
            return error

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(send, range(threads)))


@pytest.mark.parametrize("round_", range(3))
def test_same_command_id_racing_on_an_existing_stream_is_stored_once(atomic_aws, fast_switching, round_):  # noqa: F811
    store = chronicle_aws.event_store()
    store.append("idem-1", [created()], "no-stream")
    body = {"aggregateId": "idem-1", "commandId": f"cmd-{round_}", "data": {"set": {"colour": "blue"}}}
    outcomes = _same_command_from(8, "ChangeProjectConfiguration", body)

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    responses = [o["response"] for o in outcomes]
    assert all(r == responses[0] for r in responses)
    assert sum(not o.get("replayed") for o in outcomes) == 1  # one writer, the others replay its outcome
    events = store.read("idem-1")
    assert [e["eventType"] for e in events] == ["ProjectCreated", "ProjectConfigurationChanged"]
    assert events[1]["eventId"] == responses[0]["events"][0]["eventId"]
    assert events[1]["metadata"]["commandId"] == f"cmd-{round_}"


@pytest.mark.parametrize("with_id", [True, False])
def test_same_create_command_racing_is_stored_once(atomic_aws, fast_switching, with_id):  # noqa: F811
    body = {"commandId": "create-1", "data": {"name": "Racy", "ownerId": "alice"}}
    if with_id:
        body["aggregateId"] = "project-racy"
    outcomes = _same_command_from(8, "CreateProject", body)

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    responses = [o["response"] for o in outcomes]
    assert all(r == responses[0] for r in responses)
    project_id = responses[0]["aggregateId"]
    store = chronicle_aws.event_store()
    assert [e["eventId"] for e in store.read(project_id)] == [responses[0]["events"][0]["eventId"]]
    # nothing stored under the ids the losers drew for themselves
    everything = atomic_aws.scan(TableName="events")["Items"]
    assert [i["aggregateId"]["S"] for i in everything] == [project_id]
    assert len(atomic_aws.scan(TableName="commands")["Items"]) == 1


def test_same_command_id_with_different_payloads_racing(atomic_aws, fast_switching):  # noqa: F811
    """One payload wins; every other gets its stored outcome (same payload) or IdempotencyKeyReused."""
    store = chronicle_aws.event_store()
    store.append("idem-2", [created()], "no-stream")
    barrier = threading.Barrier(8)

    def send(i):
        command = _command("ChangeProjectConfiguration",
                           {"aggregateId": "idem-2", "commandId": "shared", "data": {"set": {"k": i % 2}}})
        barrier.wait()
        try:
            return i % 2, decide_and_append(command, store, chronicle_aws.aggregate_loader())
        except errors.ChronicleError as error:
            return i % 2, error

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(send, range(8)))
    events = store.read("idem-2")
    assert len(events) == 2
    winner = events[1]["eventData"]["set"]["k"]
    for payload, outcome in outcomes:
        if payload == winner:
            assert not isinstance(outcome, Exception)
            assert outcome["response"]["events"][0]["eventId"] == events[1]["eventId"]
        else:
            assert isinstance(outcome, errors.IdempotencyKeyReused), outcome
