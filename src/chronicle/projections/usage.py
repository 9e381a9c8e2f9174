"""The template usage read model (ServiceUsageReadModelTable): services per template across projects.

One item per (projectId, serviceName), holding the templateId/templateVersion of its ServiceAdded and
`lastSequence`, the project stream's eventSequence that wrote it. A ServiceRemoved marks the item `removed`
(a tombstone) instead of deleting it. Every write is conditional on `lastSequence < :sequence`, so per source
stream and sequence an event is applied once, and an older event arriving late (a ServiceAdded delivered after the
ServiceRemoved that followed it) changes nothing: duplicates and reordering within or across projects cannot skew
the counts. The GSI `byTemplate` (templateId, useKey = <projectId>#<serviceName>) lists a template's uses; a
tombstone written before its ServiceAdded was seen has no templateId and stays out of the index.

Gaps: a marker item per project (serviceName "#") records the last sequence seen; an event after a gap reads the
missing ones from the event store and applies them first (each write idempotent as above).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chronicle.eventstore import EventStore
from chronicle.projections.folded import Applied, RebuildReport, stream_ids

log = logging.getLogger(__name__)

MARKER = "#"  # the per-project item holding the last eventSequence seen (no service name can be "#")


@dataclass(frozen=True)
class Use:
    project_id: str
    service_name: str
    template_version: int


NEWER = "attribute_not_exists(lastSequence) OR lastSequence < :s"  # every write: never back, never twice


def _conditional(write: Any, **request: Any) -> bool:
    try:
        write(**request)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False  # already at this sequence or a later one


def _put_newer(client: Any, table: str, item: dict[str, Any]) -> bool:
    """Write the whole item unless the stored one is at its sequence or a later one (a PutItem where every
    attribute is known: the same write units as an UpdateItem, less to evaluate)."""
    return _conditional(client.put_item, TableName=table, Item=item, ConditionExpression=NEWER,
                        ExpressionAttributeValues={":s": item["lastSequence"]})


def _mark(client: Any, table: str, project_id: str, sequence: int) -> bool:
    return _put_newer(client, table, {"projectId": {"S": project_id}, "serviceName": {"S": MARKER},
                                      "lastSequence": {"N": str(sequence)}})


def _apply_one(client: Any, table: str, event: dict[str, Any]) -> bool:
    project_id, sequence = event["aggregateId"], int(event["eventSequence"])
    data, kind = event["eventData"], event["eventType"]
    if kind not in ("ServiceAdded", "ServiceRemoved"):
        return False
    key = {"projectId": {"S": project_id}, "serviceName": {"S": data["serviceName"]}}
    if kind == "ServiceAdded":
        return _put_newer(client, table, {
            **key, "templateId": {"S": data["templateId"]}, "templateVersion": {"N": str(data["templateVersion"])},
            "useKey": {"S": f"{project_id}#{data['serviceName']}"}, "removed": {"BOOL": False},
            "lastSequence": {"N": str(sequence)}})
    # ServiceRemoved: a tombstone keeps what ServiceAdded wrote
    return _conditional(client.update_item, TableName=table, Key=key, ConditionExpression=NEWER,
                        UpdateExpression="SET removed = :yes, lastSequence = :s",
                        ExpressionAttributeValues={":yes": {"BOOL": True}, ":s": {"N": str(sequence)}})


def apply(event: dict[str, Any], store: EventStore, table: str) -> Applied:
    """Apply one Project event (as published); events other than ServiceAdded/ServiceRemoved only move the marker."""
    client = store.client
    project_id, sequence = event["aggregateId"], int(event["eventSequence"])
    marker = client.get_item(TableName=table, Key={"projectId": {"S": project_id}, "serviceName": {"S": MARKER}},
                             ConsistentRead=True).get("Item")
    seen = int(marker["lastSequence"]["N"]) if marker else 0
    if sequence <= seen:
        return Applied(0, True, seen)
    if sequence == seen + 1 and not event.get("eventDataOmitted"):
        events = [store.schemas.upcast(event)]
    else:
        events = store.read(project_id, seen + 1, sequence)
        log.info("filling a gap from the event store", extra={"aggregateId": project_id, "from": seen + 1,
                                                              "to": sequence, "found": len(events)})
        if not events or events[-1]["eventSequence"] != sequence:
            raise RuntimeError(f"event store has no event {sequence} for {project_id}: cannot project yet")
    applied = sum(_apply_one(client, table, e) for e in events)
    _mark(client, table, project_id, sequence)
    return Applied(applied, False, sequence)


def uses(client: Any, table: str, template_id: str) -> list[Use]:
    """The template's current uses, by project then service name."""
    request: dict[str, Any] = {
        "TableName": table, "IndexName": "byTemplate", "KeyConditionExpression": "templateId = :t",
        "FilterExpression": "removed = :no",
        "ExpressionAttributeValues": {":t": {"S": template_id}, ":no": {"BOOL": False}}}
    found: list[Use] = []
    while True:
        page = client.query(**request)
        found += [Use(i["projectId"]["S"], i["serviceName"]["S"], int(i["templateVersion"]["N"]))
                  for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def rebuild(store: EventStore, table: str, ids: Iterable[str] | None = None) -> RebuildReport:
    """Replay every project's events through apply() (each write idempotent): repairs lost or dead-lettered
    deliveries; never moves an item backwards."""
    report = RebuildReport()
    for project_id in (ids if ids is not None else stream_ids(store, "ProjectCreated")):
        version = store.version(project_id)
        if version == 0:
            report.missing.append(project_id)
            continue
        if store.read(project_id, 1, 1)[0]["eventType"] != "ProjectCreated":
            report.other.append(project_id)
            continue
        for event in store.iter_events(project_id):
            if event["eventType"] in ("ServiceAdded", "ServiceRemoved"):
                _apply_one(store.client, table, event)
        _mark(store.client, table, project_id, version)
        report.rebuilt.append(project_id)
    return report
