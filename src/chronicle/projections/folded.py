"""A read model that is an aggregate's state folded by its own evolve(): one item per stream, stored with the last
applied eventSequence as `version` (the project and template read models).

Delivery is at least once and unordered (EventBridge). So an event is applied only on top of version
eventSequence-1: an old or duplicate event (sequence <= version) is skipped, and a gap (sequence > version+1) is
filled by reading the missing events from the event store. The write is conditional on the version it read, so
two projector instances racing on one stream cannot both apply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chronicle.domain import Aggregate, State
from chronicle.eventstore import EventStore
from chronicle.eventstore.snapshots import AggregateLoader

log = logging.getLogger(__name__)


@dataclass
class Applied:
    applied: int  # events folded in by this call (the gap included)
    skipped: bool  # the event was already applied
    version: int  # the read model's version afterwards


@dataclass(frozen=True)
class FoldedModel:
    name: str  # as `chronicle projections rebuild --read-model` names it
    aggregate: Aggregate
    created_event: str  # the first event of every stream of the aggregate (rebuild finds streams by it)
    to_item: Callable[[str, State], dict[str, Any]]
    from_item: Callable[[dict[str, Any]], State]


def apply(event: dict[str, Any], store: EventStore, table: str, model: FoldedModel, attempts: int = 5) -> Applied:
    """Apply one stored event (as published) to the read model."""
    client = store.client
    stream_id, sequence = event["aggregateId"], int(event["eventSequence"])
    for _ in range(attempts):
        item = client.get_item(TableName=table, Key={"id": {"S": stream_id}}, ConsistentRead=True).get("Item")
        state = model.from_item(item) if item else model.aggregate.initial_state()
        if sequence <= state["version"]:
            return Applied(0, True, state["version"])
        if sequence == state["version"] + 1 and not event.get("eventDataOmitted"):
            missing = [store.schemas.upcast(event)]
        else:  # a gap (lost or late delivery), or an event too big for EventBridge: read it from the store
            missing = store.read(stream_id, state["version"] + 1, sequence)
            log.info("filling a gap from the event store", extra={"aggregateId": stream_id,
                     "from": state["version"] + 1, "to": sequence, "found": len(missing)})
        for stored in missing:
            state = model.aggregate.evolve(state, stored)
        if state["version"] != sequence:
            raise RuntimeError(f"event store has no events {sequence} for {stream_id}: cannot project yet")
        try:
            condition = "attribute_not_exists(id)" if item is None else "version = :read"
            values = {} if item is None else {"ExpressionAttributeValues": {":read": item["version"]}}
            client.put_item(TableName=table, Item=model.to_item(stream_id, state), ConditionExpression=condition,
                            **values)
            return Applied(len(missing), False, sequence)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # another projector instance moved the item on: read it again
    raise RuntimeError(f"{model.name} {stream_id}: too much contention applying event {sequence}")


@dataclass
class RebuildReport:
    rebuilt: list[str] = field(default_factory=list)
    newer_kept: list[str] = field(default_factory=list)  # a live projector was ahead: left as it was
    missing: list[str] = field(default_factory=list)  # asked for, but no such stream
    other: list[str] = field(default_factory=list)  # asked for, but a stream of another aggregate: not this model's


def stream_ids(store: EventStore, created_event: str) -> Iterator[str]:
    """Every stream whose first event is `created_event` (one Scan of the event table, paginated), and, when the
    store has an archive, the streams of that aggregate type whose first events were archived (a Scan of the
    archive catalog)."""
    from chronicle.domain import AGGREGATES

    seen: set[str] = set()
    scans: list[tuple[Any, dict[str, Any]]] = [(store.client, {
        "TableName": store.event_table, "FilterExpression": "eventSequence = :one AND eventType = :created",
        "ProjectionExpression": "aggregateId",
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":created": {"S": created_event}}})]
    types = sorted(a.type for a in AGGREGATES.values() if created_event in a.event_types)
    if store.archive is not None and types:
        scans.append((store.archive.dynamodb, {
            "TableName": store.archive.catalog_table, "ProjectionExpression": "aggregateId",
            "FilterExpression": "firstSequence = :one AND aggregateType IN (" + ", ".join(
                f":t{i}" for i in range(len(types))) + ")",
            "ExpressionAttributeValues": {":one": {"N": "1"}, **{f":t{i}": {"S": t} for i, t in enumerate(types)}}}))
    for client, request in scans:
        while True:
            page = client.scan(**request)
            for item in page.get("Items", []):
                if item["aggregateId"]["S"] not in seen:  # an interrupted archive run: in both places
                    seen.add(item["aggregateId"]["S"])
                    yield item["aggregateId"]["S"]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def rebuild(store: EventStore, table: str, model: FoldedModel, ids: Iterable[str] | None = None) -> RebuildReport:
    """Fold each stream whole and write it with ``attribute_not_exists(id) OR version <= :v``: never moves an item
    backwards, even while live projectors write newer versions; running it twice changes nothing."""
    report = RebuildReport()
    loader = AggregateLoader(store, None)  # folds with the aggregate's evolve, as the projector does
    for stream_id in (ids if ids is not None else stream_ids(store, model.created_event)):
        loaded = loader.load(model.aggregate, stream_id)
        state = loaded.state
        if state["version"] == 0 and not loaded.foreign:
            report.missing.append(stream_id)
            continue
        if loaded.foreign or not state.get("exists"):  # a stream of another model (docs/decisions/0010)
            report.other.append(stream_id)
            continue
        try:
            store.client.put_item(
                TableName=table, Item=model.to_item(stream_id, state),
                ConditionExpression="attribute_not_exists(id) OR version <= :v",
                ExpressionAttributeValues={":v": {"N": str(state["version"])}})
            report.rebuilt.append(stream_id)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            report.newer_kept.append(stream_id)
    log.info("read model rebuilt", extra={"readModel": model.name, "rebuilt": len(report.rebuilt),
                                          "newerKept": len(report.newer_kept), "missing": len(report.missing)})
    return report
