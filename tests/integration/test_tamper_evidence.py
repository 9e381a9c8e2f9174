"""Tamper evidence beyond the chain (issue 20 item 15, docs/decisions/0011): someone who can write the event table
strips every hash, deletes the head event, or rewrites events with recomputed hashes; `chronicle verify` and an
anchor kept elsewhere catch each, and reads refuse an event that fails its hash."""

from __future__ import annotations

import json

import pytest
from eventstore_helpers import atomic_aws  # noqa: F401 - fixture

from chronicle import aws as chronicle_aws
from chronicle import queries
from chronicle.cli import main
from chronicle.commands import decide_and_append, validate_request
from chronicle.eventstore.chain import seal


@pytest.fixture(autouse=True)
def as_admin(monkeypatch, tmp_path):
    monkeypatch.setenv("CHRONICLE_ANCHOR_KEY", str(tmp_path / "anchor.key"))
    with queries.acting_as("root"):
        yield


def command(command_type, data, aggregate_id=None):
    body = {"data": data, **({"aggregateId": aggregate_id} if aggregate_id else {})}
    return validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": "alice"})


def run(command_type, data, aggregate_id=None):
    return decide_and_append(command(command_type, data, aggregate_id), chronicle_aws.event_store(),
                             chronicle_aws.aggregate_loader())["response"]


def make_project(events: int) -> str:
    project_id = run("CreateProject", {"name": "P", "ownerId": "alice"})["aggregateId"]
    for i in range(events - 1):
        run("ChangeProjectConfiguration", {"set": {"k": i}}, project_id)
    return project_id


def head_key(aggregate_id):  # chronicle.eventstore.heads.head_key, spelled out: the record's key is its contract
    return {"aggregateId": {"S": "#head#" + aggregate_id}}


def client():
    return chronicle_aws.event_store().client


def items(project_id):
    return client().query(TableName="events", KeyConditionExpression="aggregateId = :id",
                          ExpressionAttributeValues={":id": {"S": project_id}}, ConsistentRead=True)["Items"]


def put(item):
    client().put_item(TableName="events", Item=item)


def edited(item, value=999):
    return {**item, "eventData": {"S": json.dumps({"set": {"k": value}, "unset": []})}}


def verify(*args, capsys):
    code = main(["verify", *args])
    return code, capsys.readouterr()


@pytest.fixture
def stream(atomic_aws):  # noqa: F811
    return make_project(8)


def test_stripping_every_hash_then_editing_an_event_fails_verify(stream, capsys):
    for item in items(stream):
        put({k: v for k, v in item.items() if k != "hash"})
    put(edited({k: v for k, v in items(stream)[3].items()}))
    code, out = verify(stream, capsys=capsys)
    assert code == 1 and f"FAIL  {stream}" in out.out and "unsealed" not in out.out, out.out


def test_stripping_every_hash_of_a_stream_with_no_head_record_still_fails(stream, capsys):
    client().delete_item(TableName="snapshots", Key=head_key(stream))  # the attacker found the head record too
    for item in items(stream):
        put({k: v for k, v in item.items() if k != "hash"})
    code, out = verify(stream, capsys=capsys)
    assert code == 1 and "no record of events stored before the chain" in out.out, out.out


def test_deleting_the_head_event_fails_verify(stream, capsys):
    client().delete_item(TableName="events", Key={"aggregateId": {"S": stream}, "eventSequence": {"N": "8"}})
    code, out = verify(stream, capsys=capsys)
    assert code == 1 and f"FAIL  {stream}: event 8: events 8..8 are missing" in out.out, out.out


def test_deleting_a_whole_stream_fails_verify_all(stream, capsys):
    other = make_project(2)
    for item in items(stream):
        client().delete_item(TableName="events", Key={"aggregateId": item["aggregateId"],
                                                      "eventSequence": item["eventSequence"]})
    code, out = verify("--all", capsys=capsys)
    assert code == 1 and f"FAIL  {stream}: event 1: events 1..8 are missing" in out.out
    assert f"ok    {other}" in out.out


def rewrite_from(project_id, sequence):
    """Edit event `sequence` and recompute every hash from there to the head (no key is needed for that)."""
    stored = items(project_id)
    tail = [edited(stored[sequence - 1])] + stored[sequence:]
    last = seal(tail, stored[sequence - 2]["hash"]["S"])
    for item in tail:
        put(item)
    return last


def test_rewriting_with_recomputed_hashes_fails_against_the_head_record(stream, capsys):
    rewrite_from(stream, 3)
    code, out = verify(stream, capsys=capsys)
    assert code == 1 and "event 8: the hash differs from the one the stream's head record recorded" in out.out


def test_rewriting_with_recomputed_hashes_and_the_head_record_fails_against_an_anchor(stream, capsys, tmp_path):
    code, out = verify("--anchor", capsys=capsys)
    assert code == 0 and "anchor of 1 streams" in out.err
    anchor = tmp_path / "anchor.json"
    anchor.write_text(out.out)
    assert json.loads(out.out)["streams"][stream]["head"] == 8
    run("ChangeProjectConfiguration", {"set": {"later": 1}}, stream)  # events after the anchor are fine
    assert verify("--anchor-check", str(anchor), capsys=capsys)[0] == 0

    last = rewrite_from(stream, 3)  # the attacker rewrites, re-hashes, and moves the head record along
    client().put_item(TableName="snapshots", Item={**head_key(stream), "headSequence": {"N": "9"},
                                                   "headHash": {"S": last}, "sealedFrom": {"N": "1"}})
    assert verify(stream, capsys=capsys)[0] == 0  # nothing in the stack is left to tell
    code, out = verify("--anchor-check", str(anchor), capsys=capsys)
    assert code == 1 and f"FAIL  {stream}: event 8: the hash differs from the one the stream's anchor recorded" \
        in out.out, out.out


def test_an_anchor_catches_a_deleted_stream_and_refuses_a_forged_or_foreign_anchor(stream, capsys, tmp_path,
                                                                                  monkeypatch):
    code, out = verify("--anchor", capsys=capsys)
    anchor = tmp_path / "anchor.json"
    anchor.write_text(out.out)
    document = json.loads(out.out)

    forged = tmp_path / "forged.json"
    document["streams"][stream]["head"] = 7
    forged.write_text(json.dumps(document))
    code, out = verify("--anchor-check", str(forged), capsys=capsys)
    assert code == 1 and "do not match its digest" in out.err
    monkeypatch.setenv("CHRONICLE_ANCHOR_KEY", str(tmp_path / "another.key"))
    (tmp_path / "another.key").write_text("ab" * 32)
    code, out = verify("--anchor-check", str(anchor), capsys=capsys)
    assert code == 1 and "signature does not check" in out.err
    monkeypatch.setenv("CHRONICLE_ANCHOR_KEY", str(tmp_path / "anchor.key"))

    for item in items(stream):  # the events and every record of the stream in the stack
        client().delete_item(TableName="events", Key={"aggregateId": item["aggregateId"],
                                                      "eventSequence": item["eventSequence"]})
    client().delete_item(TableName="snapshots", Key=head_key(stream))
    assert verify("--all", capsys=capsys)[0] == 0  # nothing left in the stack names it
    code, out = verify("--anchor-check", str(anchor), capsys=capsys)
    assert code == 1 and f"FAIL  {stream}: event 1: events 1..8 are missing" in out.out, out.out


def test_no_anchor_is_made_over_a_failing_stream(stream, capsys):
    put(edited(items(stream)[2]))
    code, out = verify("--anchor", capsys=capsys)
    assert code == 1 and out.out == "" and "no anchor" in out.err


def test_reads_refuse_an_event_that_fails_its_hash(stream):
    from chronicle.eventstore.chain import ChainBroken

    put(edited(items(stream)[4]))  # event 5, hash left as it was
    with pytest.raises(ChainBroken) as refused:
        queries.history(stream)
    assert refused.value.code == "InternalError" and refused.value.details[0]["eventSequence"] == 5
    with pytest.raises(ChainBroken):
        queries.history(stream, 5, 6)  # a range starting at the damaged event
    with pytest.raises(ChainBroken):  # a command never folds a forged event into the state it decides on
        run("ChangeProjectConfiguration", {"set": {"x": 1}}, stream)


def test_reads_refuse_an_event_whose_hash_was_stripped_after_a_sealed_one(stream):
    from chronicle.eventstore.chain import ChainBroken

    put({k: v for k, v in items(stream)[5].items() if k != "hash"})
    with pytest.raises(ChainBroken, match="no hash after a sealed event"):
        queries.history(stream)


def test_a_stream_beyond_its_head_record_passes_with_a_note(stream, capsys):
    """The head record is written after the append: if that write fails, the stream is ahead of it (never behind),
    which is not tampering; the next append moves the record along."""
    store = chronicle_aws.event_store()
    from eventstore_helpers import changed

    store.append(stream, [changed({"n": 1})], 8)  # no head record written for event 9
    code, out = verify(stream, capsys=capsys)
    assert code == 0 and "note: 1 events after the recorded head 8" in out.out, out.out
    run("ChangeProjectConfiguration", {"set": {"n": 2}}, stream)
    code, out = verify(stream, capsys=capsys)
    assert code == 0 and "note" not in out.out, out.out
