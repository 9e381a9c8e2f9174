"""A read model that is an aggregate's folded state, one item per stream: the shared projector algorithm.

Delivery is at least once and unordered (EventBridge). So an event is applied only on top of version
eventSequence-1: an old or duplicate event (sequence <= version) is skipped, and a gap (sequence > version+1) is
filled by reading the missing events from the event store. The write is conditional on the version it read, so
two projector instances racing on one stream cannot both apply. The fold is the aggregate's own evolve().
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chronicle.domain import Aggregate
from chronicle.eventstore import EventStore

log = logging.getLogger(__name__)

Item = dict[str, dict[str, Any]]


@dataclass
class Applied:
    applied: int  # events folded in by this call (the gap included)
    skipped: bool  # the event was already applied
    version: int  # the read model's version afterwards


def apply(event: dict[str, Any], store: EventStore, table: str, aggregate: Aggregate,
          to_item: Callable[[str, dict[str, Any]], Item], from_item: Callable[[Item], dict[str, Any]],
          attempts: int = 5) -> Applied:
    """Apply one stored event (as published) to the read model."""
    client = store.client
    stream_id, sequence = event["aggregateId"], int(event["eventSequence"])
    for _ in range(attempts):
        item = client.get_item(TableName=table, Key={"id": {"S": stream_id}}, ConsistentRead=True).get("Item")
        state = from_item(item) if item else aggregate.initial_state()
        if sequence <= state["version"]:
            return Applied(0, True, state["version"])
        if sequence == state["version"] + 1 and not event.get("eventDataOmitted"):
            missing = [store.schemas.upcast(event)]
        else:  # a gap (lost or late delivery), or an event too big for EventBridge: read it from the store
            missing = store.read(stream_id, state["version"] + 1, sequence)
            log.info("filling a gap from the event store", extra={"aggregateId": stream_id,
                     "from": state["version"] + 1, "to": sequence, "found": len(missing)})
        for stored in missing:
            state = aggregate.evolve(state, stored)
        if state["version"] != sequence:
            raise RuntimeError(f"event store has no events {sequence} for {stream_id}: cannot project yet")
        try:
            condition = "attribute_not_exists(id)" if item is None else "version = :read"
            values = {} if item is None else {"ExpressionAttributeValues": {":read": item["version"]}}
            client.put_item(TableName=table, Item=to_item(stream_id, state), ConditionExpression=condition,
                            **values)
            return Applied(len(missing), False, sequence)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # another projector instance moved the item on: read it again
    raise RuntimeError(f"{aggregate.type} {stream_id}: too much contention applying event {sequence}")


def stream_ids(store: EventStore, first_event_type: str):
    """Every stream whose first event is `first_event_type` (one paginated Scan of the event table)."""
    request: dict[str, Any] = {
        "TableName": store.event_table, "FilterExpression": "eventSequence = :one AND eventType = :created",
        "ProjectionExpression": "aggregateId",
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":created": {"S": first_event_type}}}
    while True:
        page = store.client.scan(**request)
        for item in page.get("Items", []):
            yield item["aggregateId"]["S"]
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def rebuild_item(store: EventStore, table: str, aggregate: Aggregate, stream_id: str,
                 to_item: Callable[[str, dict[str, Any]], Item]) -> str:
    """Fold one whole stream (no snapshot) and write it unless the item is newer: 'rebuilt', 'newer', 'missing'."""
    from chronicle.eventstore.snapshots import AggregateLoader

    state = AggregateLoader(store, None).load(aggregate, stream_id).state
    if state["version"] == 0:
        return "missing"
    try:
        store.client.put_item(TableName=table, Item=to_item(stream_id, state),
                              ConditionExpression="attribute_not_exists(id) OR version <= :v",
                              ExpressionAttributeValues={":v": {"N": str(state["version"])}})
        return "rebuilt"
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return "newer"
