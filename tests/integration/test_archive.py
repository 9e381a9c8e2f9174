"""Archival to S3 with read-through (issue 11, docs/operations.md).

- the answers of history, projectAt (by version and by time), rebuild and a snapshot load are identical before
  and after archiving a 500-event stream whose archived range holds an upcast event type (ProjectCreated v1);
- a load from a snapshot costs the same 2 requests after archiving and never touches S3;
- a run interrupted before the catalog update, between the S3 write and the deletes, and between two deletes
  loses and duplicates nothing, and the next run finishes the job;
- never the newest event, never past the snapshot, never without a current snapshot;
- an edited archived object is caught by `verify` and refused by reads.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from eventstore_helpers import RequestCounter, atomic_aws, changed, record  # noqa: F401 - atomic_aws is a fixture

from chronicle import aws as chronicle_aws
from chronicle import queries
from chronicle.domain import AGGREGATES
from chronicle.eventstore.chain import GENESIS, seal
from chronicle.eventstore.items import to_item
from chronicle.eventstore.archive import ArchiveCorrupt, cutoff_for
from chronicle.eventstore.archiver import Archiver, step
from chronicle.eventstore.verify import verify_stream
from chronicle.projections.registry import rebuild


@pytest.fixture(autouse=True)
def as_admin():
    """Read as a bootstrap admin (ADMIN_ACTOR_IDS=root in conftest): private projects are visible to admins only."""
    with queries.acting_as("root"):
        yield

PROJECT = AGGREGATES["Project"]
BUCKET = "chronicle-archive"
OLD = datetime(2024, 1, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_stream(project_id: str, events: int = 500, old: int = 400, snapshot: bool = True) -> None:
    """`old` events one minute apart in 2024 (ProjectCreated stored as v1), then recent ones; a snapshot at the head.
    Written straight to the table (BatchWriteItem, sealed as the append seals them): only for seeding fast."""
    now = datetime.now(UTC) - timedelta(minutes=events)
    records = [record("ProjectCreated", {"name": "Legacy", "ownerId": "alice"}, iso(OLD if old else now), version="1")]
    for sequence in range(2, events + 1):
        moment = OLD + timedelta(minutes=sequence) if sequence <= old else now + timedelta(minutes=sequence)
        records.append(changed({f"k{sequence % 7}": sequence},
                               [f"k{(sequence + 3) % 7}"] if sequence % 5 == 0 else [], iso(moment)))
    items = [to_item({**r, "aggregateId": project_id, "eventSequence": i}) for i, r in enumerate(records, start=1)]
    seal(items, GENESIS)
    client = chronicle_aws.event_store().client
    for start in range(0, len(items), 25):
        client.batch_write_item(RequestItems={"events": [{"PutRequest": {"Item": i}} for i in items[start:start + 25]]})
    if snapshot:
        chronicle_aws.aggregate_loader().load(PROJECT, project_id)  # reads > 50 events: writes the snapshot


def answers(project_id: str, quick: bool = False) -> dict:
    """Everything a reader can ask of the stream (`quick`: the whole history, 3 versions, 2 times, the state)."""
    times = [iso(OLD + timedelta(minutes=m)) for m in (0, 149, 150, 400)] + ["2099-01-01T00:00:00.000Z"]
    if quick:
        return {"history": queries.history(project_id),
                "at version": {v: queries.projectAt(project_id, version=v) for v in (1, 75, 151)},
                "at time": {t: queries.projectAt(project_id, asOf=t) for t in (times[1], times[-1])},
                "now": chronicle_aws.aggregate_loader().load(PROJECT, project_id).state}
    return {
        "history": queries.history(project_id),
        "history ranges": [queries.history(project_id, lo, hi) for lo, hi in
                           ((1, 10), (140, 160), (395, 405), (400, 400), (401, 500), (498, 600), (700, 800))],
        "at version": {v: queries.projectAt(project_id, version=v) for v in (1, 150, 151, 400, 401, 500, 501)},
        "at time": {t: queries.projectAt(project_id, asOf=t) for t in times},
        "now": chronicle_aws.aggregate_loader().load(PROJECT, project_id).state,
        "rebuilt": _rebuilt(project_id),
        "verified": verify_stream(chronicle_aws.event_store(), project_id).as_dict() | {"sources": None},
    }


def _rebuilt(project_id: str) -> dict:
    client = chronicle_aws.event_store().client
    client.delete_item(TableName="projects", Key={"id": {"S": project_id}})
    report = rebuild("projects", chronicle_aws.event_store(), "projects")  # every project: finds archived streams too
    assert project_id in report.rebuilt
    return client.get_item(TableName="projects", Key={"id": {"S": project_id}})["Item"]


def table_sequences(project_id: str) -> list[int]:
    return [int(i["eventSequence"]["N"]) for i in chronicle_aws.event_store().table_items(project_id, 1, 2**62)]


def catalog(project_id: str) -> list[tuple[int, int]]:
    return [(e["firstSequence"], e["lastSequence"]) for e in chronicle_aws.archive_reader().ranges(project_id)]


def objects() -> list[dict]:
    return boto3.client("s3").list_object_versions(Bucket=BUCKET).get("Versions", [])


def archiver(max_events: int = 150) -> Archiver:
    return Archiver(chronicle_aws.event_store(), chronicle_aws.archive_reader(), "snapshots", max_events=max_events)


def run_to_completion(project_id: str, days: float = 365, max_events: int = 150) -> int:
    archived, cutoff = 0, cutoff_for(days)
    while True:
        outcome = archiver(max_events).archive_stream(project_id, cutoff)
        archived += outcome["archived"]
        if not outcome["more"]:
            return archived


@pytest.fixture
def p500(atomic_aws):  # noqa: F811
    build_stream("p-500")


@pytest.fixture
def stream(p500):
    before = answers("p-500")
    assert before["history"][0]["storedVersion"] == "1" and before["history"][0]["version"] == "2"  # upcast
    assert before["verified"]["ok"]
    return before


@pytest.fixture
def p200(atomic_aws):  # noqa: F811
    """200 events, 1..150 old (quicker than the 500-event stream)."""
    build_stream("p-200", events=200, old=150)


@pytest.fixture
def small(p200):
    return answers("p-200", quick=True)


def test_reads_are_identical_before_and_after_archiving_500_events(stream):
    assert run_to_completion("p-500") == 400
    assert catalog("p-500") == [(1, 150), (151, 300), (301, 400)]
    assert table_sequences("p-500") == list(range(401, 501))
    assert len(objects()) == 3
    after = answers("p-500")
    assert after == stream
    report = verify_stream(chronicle_aws.event_store(), "p-500")
    assert report.ok and report.sources == {"archive": 400, "table": 100}
    assert run_to_completion("p-500") == 0  # nothing left to do: idempotent
    assert len(objects()) == 3


def test_a_load_from_the_snapshot_costs_the_same_two_requests_and_no_s3_request(p200):
    store = chronicle_aws.event_store()
    counter = RequestCounter(store.client)
    s3_calls = []
    chronicle_aws.client("s3").meta.events.register("before-call.s3", lambda model, **_: s3_calls.append(model.name))
    before = chronicle_aws.aggregate_loader().load(PROJECT, "p-200")
    assert counter.reset() == ["GetItem", "Query"]
    run_to_completion("p-200")
    counter.reset()
    s3_calls.clear()
    after = chronicle_aws.aggregate_loader().load(PROJECT, "p-200")
    assert counter.reset() == ["GetItem", "Query"] and s3_calls == []
    assert after == before
    counter.close()


def test_only_events_older_than_the_window_covered_by_a_current_snapshot_and_never_the_newest(atomic_aws):  # noqa: F811
    build_stream("all-old", events=60, old=60)  # snapshot at 60 = the head
    assert run_to_completion("all-old", max_events=500) == 59
    assert table_sequences("all-old") == [60]  # the newest stays: appends' conditions need it

    build_stream("behind", events=60, old=60, snapshot=False)
    store, loader = chronicle_aws.event_store(), chronicle_aws.aggregate_loader()
    loaded = loader.load(PROJECT, "behind", as_of_version=40)
    loader.save_snapshot(PROJECT, "behind", loaded)  # a snapshot at 40, events up to 60
    assert run_to_completion("behind", max_events=500) == 40
    assert table_sequences("behind") == list(range(41, 61))

    build_stream("no-snapshot", events=60, old=60, snapshot=False)
    assert run_to_completion("no-snapshot") == 0

    build_stream("stale", events=60, old=60)
    store.client.update_item(TableName="snapshots", Key={"aggregateId": {"S": "stale"}},
                             UpdateExpression="SET builtWith = :b", ExpressionAttributeValues={":b": {"S": "old"}})
    assert run_to_completion("stale") == 0  # a load would replay: archiving would put S3 on the command path

    build_stream("young", events=60, old=0)
    assert run_to_completion("young") == 0
    assert run_to_completion("young", days=0) == 59  # --older-than 0: everything eligible


class Crash(Exception):
    pass


def crash_on(client, operation: str, nth: int, table: str | None = None):
    """Make the nth `operation` call (on `table`, if given) raise, as a killed Lambda would stop there."""
    calls = []

    def hook(params, **_):
        if table is None or params.get("TableName") == table:
            calls.append(1)
            if len(calls) == nth:
                raise Crash(f"killed at {operation} #{nth}")

    service = client.meta.service_model.endpoint_prefix
    client.meta.events.register(f"before-parameter-build.{service}.{operation}", hook, unique_id="crash")
    return lambda: client.meta.events.unregister(f"before-parameter-build.{service}.{operation}", unique_id="crash")




@pytest.mark.parametrize("where, operation, nth, table, stopped_at", [
    # stopped_at: (catalogued ranges, first event left in the table, objects in S3) when the run died
    ("before the catalog (metadata) update", "PutItem", 1, "archive-catalog", ([], 1, 1)),
    ("between the S3 write and the first delete", "DeleteItem", 1, None, ([(1, 50)], 1, 1)),
    ("between two deletes", "DeleteItem", 20, None, ([(1, 50)], 20, 1)),
    ("between the two objects of one run", "PutObject", 2, None, ([(1, 50)], 51, 1)),
])
def test_an_interrupted_run_loses_and_duplicates_nothing_and_the_next_run_finishes(small, where, operation,
                                                                                   nth, table, stopped_at):
    client = chronicle_aws.client("s3") if operation == "PutObject" else chronicle_aws.client("dynamodb")
    release = crash_on(client, operation, nth, table)
    with pytest.raises(Crash):
        run_to_completion("p-200", max_events=50)
    release()
    assert (catalog("p-200"), table_sequences("p-200")[0], len(objects())) == stopped_at, where
    assert table_sequences("p-200") == list(range(stopped_at[1], 201))
    assert answers("p-200", quick=True) == small, where  # in between: every read complete, nothing twice
    assert run_to_completion("p-200", max_events=50) > 0
    assert catalog("p-200") == [(1, 50), (51, 100), (101, 150)]
    assert table_sequences("p-200") == list(range(151, 201))
    assert len(objects()) == 3, "an interrupted run's object is adopted, not written again"
    assert answers("p-200", quick=True) == small
    assert verify_stream(chronicle_aws.event_store(), "p-200").ok


def test_the_workflow_steps_plan_archive_and_tally(p200):
    plan = step({"action": "plan", "input": {}}, archiver(), 365)
    assert plan["streams"] == ["p-200"] and plan["cutoff"] <= cutoff_for(365)
    outcome = {"aggregateId": "p-200", "cutoff": plan["cutoff"], "archived": 0, "more": True}
    while outcome["more"]:
        outcome = step({"action": "archiveStream", **outcome}, archiver(), 365)
    assert outcome["archived"] == 150
    tally = step({"action": "tally", "input": {**plan, "results": [outcome]}}, archiver(), 365)
    assert tally["totals"] == {"streams": 1, "events": 150, "failed": []} and tally["failedCount"] == 0
    with pytest.raises(ValueError):
        step({"action": "plan", "input": {"olderThanDays": -1}}, archiver(), 365)


def _rewrite_archived(entry: dict, edit, forge_catalog_digest: bool = False) -> None:
    """An attacker with write access to the bucket and the catalog: S3 keeps every version, so the edit is a new
    version, and the catalog must be pointed at it for readers to see it."""
    s3 = boto3.client("s3")
    raw = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=entry["key"])["Body"].read())
    lines = edit(raw.split(b"\n"))
    put = s3.put_object(Bucket=BUCKET, Key=entry["key"], Body=gzip.compress(b"\n".join(lines)))
    update, values = "SET versionId = :v", {":v": {"S": put["VersionId"]}}
    if forge_catalog_digest:
        update += ", contentSha256 = :d"
        values[":d"] = {"S": json.loads(lines[0])["contentSha256"]}
    chronicle_aws.event_store().client.update_item(
        TableName="archive-catalog", UpdateExpression=update, ExpressionAttributeValues=values,
        Key={"aggregateId": {"S": "p-500"}, "firstSequence": {"N": str(entry["firstSequence"])}})
    chronicle_aws.archive_reader()._cache.clear()


def test_an_edited_archived_object_is_caught_by_verify_and_refused_by_reads(p500):
    first_ten = queries.history("p-500", 1, 10)
    run_to_completion("p-500")
    [entry] = [e for e in chronicle_aws.archive_reader().ranges("p-500") if e["firstSequence"] == 151]

    def edit_event_170(lines):
        item = json.loads(lines[1 + 170 - 151])
        item["eventData"]["S"] = json.dumps({"set": {"k0": "forged"}, "unset": []})
        lines[1 + 170 - 151] = json.dumps(item).encode()
        return lines

    _rewrite_archived(entry, edit_event_170)
    report = verify_stream(chronicle_aws.event_store(), "p-500")
    assert not report.ok and report.failure["eventSequence"] == 170 and report.failure["object"] == entry["key"]
    with pytest.raises(ArchiveCorrupt):
        queries.history("p-500", 160, 180)
    assert queries.history("p-500", 1, 10) == first_ten  # other objects still read

    def forge_manifest_too(lines):  # re-digest the content: the catalog's copy of the digest still differs
        import hashlib

        manifest = json.loads(lines[0])
        manifest["contentSha256"] = hashlib.sha256(b"\n".join(lines[1:])).hexdigest()
        lines[0] = json.dumps(manifest).encode()
        return lines

    _rewrite_archived(entry, forge_manifest_too, forge_catalog_digest=True)
    report = verify_stream(chronicle_aws.event_store(), "p-500")
    assert not report.ok and report.failure["eventSequence"] == 170  # the chain still names it


def test_an_archived_object_that_is_gone_is_named(p500):
    run_to_completion("p-500")
    [entry] = [e for e in chronicle_aws.archive_reader().ranges("p-500") if e["firstSequence"] == 151]
    boto3.client("s3").delete_object(Bucket=BUCKET, Key=entry["key"], VersionId=entry["versionId"])
    chronicle_aws.archive_reader()._cache.clear()
    report = verify_stream(chronicle_aws.event_store(), "p-500")
    assert not report.ok and report.failure["eventSequence"] == 151 and report.failure["object"] == entry["key"]


def test_an_object_put_again_with_the_same_content_still_reads(p200):
    """The local runtime's saved state restores objects with new version ids: the catalog's digest, not the
    version id, is what pins an archived range."""
    history = queries.history("p-200")
    run_to_completion("p-200")
    [entry] = chronicle_aws.archive_reader().ranges("p-200")
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket=BUCKET, Key=entry["key"])["Body"].read()
    s3.delete_object(Bucket=BUCKET, Key=entry["key"], VersionId=entry["versionId"])
    s3.put_object(Bucket=BUCKET, Key=entry["key"], Body=body)
    chronicle_aws.archive_reader()._cache.clear()
    assert queries.history("p-200") == history
    assert verify_stream(chronicle_aws.event_store(), "p-200").ok

