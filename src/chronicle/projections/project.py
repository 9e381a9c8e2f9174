"""The project read model (ProjectReadModelTable): one item per project, the Project aggregate's state
folded by its own evolve(), stored with the last applied eventSequence as `version`.

Delivery is at least once and unordered (EventBridge). So an event is applied only on top of version
eventSequence-1: an old or duplicate event (sequence <= version) is skipped, and a gap (sequence > version+1) is
filled by reading the missing events from the event store. The write is conditional on the version it read, so
two projector instances racing on one project cannot both apply.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chronicle.domain import project as project_domain
from chronicle.eventstore import EventStore
from chronicle.eventstore.items import dumps

log = logging.getLogger(__name__)


@dataclass
class Applied:
    applied: int  # events folded in by this call (the gap included)
    skipped: bool  # the event was already applied
    version: int  # the read model's version afterwards


def to_item(project_id: str, state: dict[str, Any]) -> dict[str, dict[str, str]]:
    item = {"id": {"S": project_id}, "version": {"N": str(state["version"])},
            "name": {"S": state["name"]}, "ownerId": {"S": state["ownerId"]},
            "visibility": {"S": state["visibility"]},
            "services": {"S": dumps(state["services"])}, "configuration": {"S": dumps(state["configuration"])},
            "createdAt": {"S": state["createdAt"]}, "updatedAt": {"S": state["updatedAt"]}}
    if state.get("description") is not None:
        item["description"] = {"S": state["description"]}
    return item


def from_item(item: dict[str, dict[str, str]]) -> dict[str, Any]:
    state = project_domain.initial_state()
    state.update(exists=True, version=int(item["version"]["N"]), name=item["name"]["S"],
                 ownerId=item["ownerId"]["S"], visibility=item.get("visibility", {}).get("S", "private"),
                 description=item.get("description", {}).get("S"),
                 services=json.loads(item["services"]["S"]), configuration=json.loads(item["configuration"]["S"]),
                 createdAt=item["createdAt"]["S"], updatedAt=item["updatedAt"]["S"])
    return state


def apply(event: dict[str, Any], store: EventStore, table: str, attempts: int = 5) -> Applied:
    """Apply one stored event (as published) to the read model."""
    client = store.client
    project_id, sequence = event["aggregateId"], int(event["eventSequence"])
    for _ in range(attempts):
        item = client.get_item(TableName=table, Key={"id": {"S": project_id}}, ConsistentRead=True).get("Item")
        state = from_item(item) if item else project_domain.initial_state()
        if sequence <= state["version"]:
            return Applied(0, True, state["version"])
        if sequence == state["version"] + 1 and not event.get("eventDataOmitted"):
            missing = [store.schemas.upcast(event)]
        else:  # a gap (lost or late delivery), or an event too big for EventBridge: read it from the store
            missing = store.read(project_id, state["version"] + 1, sequence)
            log.info("filling a gap from the event store", extra={"aggregateId": project_id,
                     "from": state["version"] + 1, "to": sequence, "found": len(missing)})
        for stored in missing:
            state = project_domain.evolve(state, stored)
        if state["version"] != sequence:
            raise RuntimeError(f"event store has no events {sequence} for {project_id}: cannot project yet")
        try:
            condition = "attribute_not_exists(id)" if item is None else "version = :read"
            values = {} if item is None else {"ExpressionAttributeValues": {":read": item["version"]}}
            client.put_item(TableName=table, Item=to_item(project_id, state), ConditionExpression=condition,
                            **values)
            return Applied(len(missing), False, sequence)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # another projector instance moved the item on: read it again
    raise RuntimeError(f"project {project_id}: too much contention applying event {sequence}")
