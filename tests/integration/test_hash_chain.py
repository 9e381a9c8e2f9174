"""The hash chain (issue 11, docs/operations.md): every stored event carries sha256(previous hash + canonical JSON of
the stored item), computed in the append at no extra request; `verify` names the first event whose content,
hash or link was changed; the GraphQL history lets an auditor recompute the chain with hashlib alone."""

from __future__ import annotations

import hashlib
import json

import pytest
from eventstore_helpers import RequestCounter, atomic_aws, changed, created  # noqa: F401 - atomic_aws is a fixture

from chronicle import aws as chronicle_aws
from chronicle import queries
from chronicle.cli import main
from chronicle.commands import decide_and_append, validate_request
from chronicle.eventstore import NO_STREAM
from chronicle.eventstore.chain import GENESIS, canonical
from chronicle.eventstore.items import to_item
from chronicle.eventstore.verify import verify_all, verify_stream


@pytest.fixture(autouse=True)
def as_admin():
    """Read as a bootstrap admin (ADMIN_ACTOR_IDS=root in conftest): private projects are visible to admins only."""
    with queries.acting_as("root"):
        yield


def command(command_type, data, aggregate_id=None):
    body = {"data": data}
    if aggregate_id:
        body["aggregateId"] = aggregate_id
    return validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": "alice"})


def make_project(events: int) -> str:
    store, loader = chronicle_aws.event_store(), chronicle_aws.aggregate_loader()
    project_id = decide_and_append(command("CreateProject", {"name": "P", "ownerId": "alice"}), store,
                                   loader)["response"]["aggregateId"]
    for i in range(events - 1):
        decide_and_append(command("ChangeProjectConfiguration", {"set": {"k": i}}, project_id), store, loader)
    return project_id


def raw_items(project_id):
    return chronicle_aws.event_store().client.query(
        TableName="events", KeyConditionExpression="aggregateId = :id",
        ExpressionAttributeValues={":id": {"S": project_id}}, ConsistentRead=True)["Items"]


def put(item):
    chronicle_aws.event_store().client.put_item(TableName="events", Item=item)


def test_the_chain_is_sha256_of_the_previous_hash_and_the_stored_item(atomic_aws):  # noqa: F811
    # 120 events: the command path loads from snapshots (50, 100) and still chains each append to its predecessor
    project_id = make_project(120)
    previous = GENESIS
    for item in raw_items(project_id):
        body = {k: v for k, v in item.items() if k != "hash"}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert item["hash"]["S"] == hashlib.sha256((previous + text).encode()).hexdigest()
        previous = item["hash"]["S"]
    report = verify_stream(chronicle_aws.event_store(), project_id, "snapshots")
    assert report.ok and report.events == 120 and report.head_hash == previous and report.unsealed_before is None


def test_the_chain_costs_no_request_on_the_command_path(atomic_aws):  # noqa: F811
    project_id = make_project(3)
    store, loader = chronicle_aws.event_store(), chronicle_aws.aggregate_loader()
    counter = RequestCounter(store.client)
    decide_and_append(command("ChangeProjectConfiguration", {"set": {"x": 1}}, project_id), store, loader)
    # snapshot, tail, the one-event append, then the stream's head record (decision 0011): the chain itself is free
    assert counter.reset() == ["GetItem", "Query", "PutItem", "PutItem"]
    counter.close()
    assert verify_stream(store, project_id, "snapshots").ok


def test_a_snapshot_at_the_head_carries_the_hash_the_next_append_chains_from(atomic_aws):  # noqa: F811
    project_id = make_project(50)  # the 50th event wrote a snapshot at the head: the next load reads no event
    store, loader = chronicle_aws.event_store(), chronicle_aws.aggregate_loader()
    from chronicle.domain import AGGREGATES

    loaded = loader.load(AGGREGATES["Project"], project_id)
    assert loaded.snapshot_version == 50 and loaded.events_read == 0
    assert loaded.head_hash == raw_items(project_id)[-1]["hash"]["S"]
    decide_and_append(command("ChangeProjectConfiguration", {"set": {"x": 1}}, project_id), store, loader)
    assert verify_stream(store, project_id, "snapshots").ok


@pytest.fixture
def stream(atomic_aws):  # noqa: F811
    project_id = make_project(8)
    assert verify_stream(chronicle_aws.event_store(), project_id, "snapshots").ok
    return project_id, raw_items(project_id)


def failure(project_id):
    report = verify_stream(chronicle_aws.event_store(), project_id, "snapshots")
    assert not report.ok
    return report.failure


def test_editing_an_events_data_is_caught_and_named(stream):
    project_id, items = stream
    edited = dict(items[4], eventData={"S": json.dumps({"set": {"k": 999}, "unset": []})})
    put(edited)
    assert failure(project_id)["eventSequence"] == 5


def test_editing_an_event_and_recomputing_its_hash_is_caught_at_the_next_event(stream):
    from chronicle.eventstore.chain import seal

    project_id, items = stream
    edited = {k: v for k, v in items[4].items()}
    edited["eventData"] = {"S": json.dumps({"set": {"k": 999}, "unset": []})}
    seal([edited], items[3]["hash"]["S"])
    put(edited)
    assert failure(project_id)["eventSequence"] == 6


def test_deleting_an_event_is_caught_and_named(stream):
    project_id, items = stream
    chronicle_aws.event_store().client.delete_item(TableName="events", Key={
        "aggregateId": {"S": project_id}, "eventSequence": {"N": "3"}})
    found = failure(project_id)
    assert found["eventSequence"] == 3 and "missing" in found["reason"]


def test_swapping_two_events_is_caught_and_named(stream):
    project_id, items = stream
    a, b = items[5], items[6]
    put({**b, "eventSequence": a["eventSequence"]})
    put({**a, "eventSequence": b["eventSequence"]})
    assert failure(project_id)["eventSequence"] == 6


def test_events_stored_before_the_chain_are_reported_unsealed_and_the_chain_starts_after_them(atomic_aws):  # noqa: F811
    store = chronicle_aws.event_store()
    legacy = [{**created(), "aggregateId": "old-1", "eventSequence": 1}] + \
             [{**changed({"n": i}), "aggregateId": "old-1", "eventSequence": i + 2} for i in range(3)]
    for event in legacy:  # as the code before the chain wrote them: no hash
        put(to_item(event))
    report = verify_stream(store, "old-1", "snapshots")  # no record says old-1 was stored before the chain
    assert not report.ok and "no record of events stored before the chain" in report.failure["reason"]
    from chronicle.domain import AGGREGATES

    loader = chronicle_aws.aggregate_loader()
    before = loader.load(AGGREGATES["Project"], "old-1")
    stored = store.append("old-1", [changed({"n": 9})], 4)  # reads event 4's (absent) hash: chains from GENESIS
    loader.after_append(AGGREGATES["Project"], "old-1", before, stored)  # records the head: sealed from 5
    report = verify_stream(store, "old-1", "snapshots")
    assert report.ok and report.unsealed_before == 5 and report.events == 5
    store.append("old-1", [changed({"n": 10})], 5)  # chains from event 5's hash
    assert verify_stream(store, "old-1", "snapshots").ok
    # stripping hashes to pass sealed events off as "unsealed" breaks the link of the next event
    sealed = raw_items("old-1")[4]
    put({k: v for k, v in sealed.items() if k != "hash"})
    assert failure("old-1")["eventSequence"] == 5  # the head record (at 5) holds its hash
    put(sealed)
    put({k: v for k, v in raw_items("old-1")[5].items() if k != "hash"})
    found = failure("old-1")
    assert found["eventSequence"] == 6 and "no hash" in found["reason"]


def test_verify_cli_names_the_failure_and_exits_non_zero(stream, capsys):
    project_id, items = stream
    other = make_project(2)
    assert main(["verify", project_id]) == 0
    assert main(["verify", "--all"]) == 0
    assert f"ok    {project_id}" in capsys.readouterr().out
    put(dict(items[1], timestamp={"S": "2020-01-01T00:00:00.000Z"}))
    assert main(["verify", "--all"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  {project_id}: event 2" in out and f"ok    {other}" in out
    assert main(["verify", "no-such-stream"]) == 1
    assert [r.ok for r in verify_all(chronicle_aws.event_store(), "snapshots")].count(False) == 1


def test_graphql_history_lets_an_auditor_recompute_the_chain(stream):
    project_id, items = stream
    previous = GENESIS
    for entry in queries.history(project_id):
        assert entry["hash"] == hashlib.sha256((previous + entry["canonical"]).encode()).hexdigest()
        previous = entry["hash"]
    assert queries.history(project_id, 3, 4)[0]["canonical"] == canonical(items[2])


def test_appending_with_no_stream_chains_from_genesis(atomic_aws):  # noqa: F811
    store = chronicle_aws.event_store()
    [event] = store.append("p-9", [created()], NO_STREAM)
    [item] = raw_items("p-9")
    assert event["hash"] == hashlib.sha256((GENESIS + canonical(item)).encode()).hexdigest()
