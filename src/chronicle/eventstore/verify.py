"""Re-compute streams' hash chains, through archived ranges too: `chronicle verify`, and `handler` for a Lambda.

For one stream: every archived object (its digest, its manifest against the catalog, its chain head), any copy
left in the table of an archived event (an interrupted archive run) against its archived copy, then the chain over
the whole stream in order (chronicle.eventstore.chain.verify_items), held against the stream's head record and
snapshot (chronicle.eventstore.heads) and, when given, an anchor (chronicle.eventstore.anchor). The report names
the first event that fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from chronicle.eventstore import heads
from chronicle.eventstore.chain import ChainReport, stored_hash, verify_items
from chronicle.eventstore.store import EventStore

Item = dict[str, dict[str, Any]]


def verify_stream(store: EventStore, aggregate_id: str, snapshot_table: str | None = None,
                  anchored: dict[str, Any] | None = None) -> ChainReport:
    """`snapshot_table`: where the stream's head record and snapshot are (heads.read_records); `anchored`: this
    stream's entry of an anchor ({"head", "hash", "sealedFrom"}), held like a record."""
    records = heads.read_records(store.client, snapshot_table, aggregate_id)
    if anchored:
        records["anchor"] = {"sequence": int(anchored["head"]), "hash": anchored["hash"],
                             "sealedFrom": anchored.get("sealedFrom")}
    problems, archived, through = _archived(store, aggregate_id)
    table: list[Item] = []
    for item in store.table_items(aggregate_id, 1, 2**62):
        sequence = int(item["eventSequence"]["N"])
        if sequence <= through:  # left behind by an interrupted delete: must equal its archived copy
            if archived.get(sequence) != item:
                problems.append({"eventSequence": sequence, "source": "table",
                                 "reason": "the table's copy of an archived event differs from the archive"})
            continue
        table.append(item)

    def ordered() -> Iterator[tuple[Item, str]]:
        for sequence in sorted(archived):
            yield archived[sequence], "archive"
        for item in table:
            yield item, "table"

    report = verify_items(aggregate_id, ordered(), heads.expected_hashes(records))
    heads.judge(report, records, heads_read=bool(snapshot_table))
    return _merged(report, problems)


def _archived(store: EventStore, aggregate_id: str) -> tuple[list[dict[str, Any]], dict[int, Item], int]:
    """Every archived object of the stream checked: (problems found, archived items by sequence, last archived)."""
    problems: list[dict[str, Any]] = []  # failures found outside the chain, by eventSequence
    archived: dict[int, Item] = {}
    through = 0
    reader = store.archive
    for entry in (reader.ranges(aggregate_id) if reader else []):
        try:
            manifest, items, intact = reader.fetch(entry)
        except ClientError as error:  # the object (or the version the catalog names) is gone
            problems.append({"eventSequence": entry["firstSequence"], "lastSequence": entry["lastSequence"],
                             "source": "archive", "object": entry["key"],
                             "reason": f"the archived object cannot be read: {error.response['Error']['Code']}"})
            through = max(through, entry["lastSequence"])
            continue
        if not intact:
            problems.append({"eventSequence": entry["firstSequence"], "lastSequence": entry["lastSequence"],
                             "source": "archive", "object": entry["key"],
                             "reason": "the archived object does not match its manifest digest or catalog entry"})
        elif items and entry["chainHead"] != manifest["chainHead"]:
            problems.append({"eventSequence": entry["lastSequence"], "source": "archive", "object": entry["key"],
                             "reason": "the catalog's chain head differs from the object's manifest"})
        elif items and manifest["chainHead"] != (stored_hash(items[-1]) or manifest["chainHead"]):
            problems.append({"eventSequence": entry["lastSequence"], "source": "archive", "object": entry["key"],
                             "reason": "the manifest's chain head is not the hash of its last event"})
        for item in items:
            archived[int(item["eventSequence"]["N"])] = item
        through = max(through, entry["lastSequence"])
    return problems, archived, through


def _merged(report: ChainReport, problems: list[dict[str, Any]]) -> ChainReport:
    """The report's failure: the first of the chain's and the problems found outside it."""
    chain_failure = report.failure
    for problem in sorted(problems, key=lambda p: p["eventSequence"]):
        if chain_failure and chain_failure["eventSequence"] <= problem.get("lastSequence", problem["eventSequence"]):
            # the chain names the very event inside (or before) the damaged object: more precise
            if problem.get("object") and chain_failure["eventSequence"] >= problem["eventSequence"]:
                chain_failure["object"] = problem["object"]
            break
        report.failure = problem
        break
    candidates = problems + ([chain_failure] if chain_failure else [])
    if report.events == 0 and not candidates and report.ok:
        report.failure = {"eventSequence": 0, "reason": "no such stream", "source": "table"}
    return report


def stream_ids(store: EventStore, snapshot_table: str | None = None) -> list[str]:
    """Every stream id: in the table (a Scan of the keys), in the archive catalog, or with a head record or
    snapshot (so a stream whose every event was deleted is still checked)."""
    ids: set[str] = set()
    sources = [(store.event_table, store.client)]
    if store.archive:
        sources.append((store.archive.catalog_table, store.archive.dynamodb))
    if snapshot_table:
        sources.append((snapshot_table, store.client))
    for table, client in sources:
        request: dict[str, Any] = {"TableName": table, "ProjectionExpression": "aggregateId"}
        while True:
            page = client.scan(**request)
            ids.update(item["aggregateId"]["S"].removeprefix(heads.HEAD_PREFIX) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(ids)


def verify_all(store: EventStore, snapshot_table: str | None = None,
               anchor_streams: dict[str, dict[str, Any]] | None = None) -> list[ChainReport]:
    """Every stream (and every stream an anchor names: one deleted whole fails as missing)."""
    anchor_streams = anchor_streams or {}
    ids = sorted(set(stream_ids(store, snapshot_table)) | set(anchor_streams))
    return [verify_stream(store, aggregate_id, snapshot_table, anchor_streams.get(aggregate_id))
            for aggregate_id in ids]


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """A Lambda entry point: {"aggregateId": ID} or {"all": true} -> {"ok", "reports": [...]} (failures only for
    --all, to keep the answer small; `checked` counts every stream)."""
    from chronicle import aws

    store = aws.event_store()
    snapshot_table = os.environ.get("SNAPSHOT_TABLE")
    one = event.get("aggregateId")
    if not one and event.get("all") is not True:
        raise ValueError('give {"aggregateId": ID} or {"all": true}')
    reports = [verify_stream(store, str(one), snapshot_table)] if one else verify_all(store, snapshot_table)
    failed = [r.as_dict() for r in reports if not r.ok]
    shown = [r.as_dict() for r in reports] if one else failed
    return {"ok": not failed, "checked": len(reports), "failed": len(failed), "reports": shown}
