"""Rebuild the project read model from the event store: the repair after the projection DLQ alarm, or after a
change to the read model's shape.

Each project is folded from its whole stream with the same ``evolve`` the projector uses and written with
``attribute_not_exists(id) OR version <= :v``: a rebuild never moves an item backwards, even while live
projectors keep writing newer versions, and running it twice changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chronicle.domain import project as project_domain
from chronicle.eventstore import EventStore
from chronicle.eventstore.snapshots import AggregateLoader
from chronicle.projections.project import to_item

log = logging.getLogger(__name__)


@dataclass
class RebuildReport:
    rebuilt: list[str] = field(default_factory=list)
    newer_kept: list[str] = field(default_factory=list)  # a live projector was ahead: left as it was
    missing: list[str] = field(default_factory=list)  # asked for, but no such stream


def project_ids(store: EventStore) -> Iterator[str]:
    """Every Project stream id, from the first event of each stream (one Scan of the event table, paginated),
    and from the archive catalog for streams whose first events were archived."""
    seen: set[str] = set()
    request: dict[str, Any] = {
        "TableName": store.event_table, "FilterExpression": "eventSequence = :one AND eventType = :created",
        "ProjectionExpression": "aggregateId",
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":created": {"S": "ProjectCreated"}}}
    scans = [(store.client, request)]
    if store.archive is not None:
        scans.append((store.archive.dynamodb, {
            "TableName": store.archive.catalog_table, "ProjectionExpression": "aggregateId",
            "FilterExpression": "firstSequence = :one AND aggregateType = :type",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":type": {"S": "Project"}}}))
    for client, request in scans:
        while True:
            page = client.scan(**request)
            for item in page.get("Items", []):
                if item["aggregateId"]["S"] not in seen:  # an interrupted archive run: in both
                    seen.add(item["aggregateId"]["S"])
                    yield item["aggregateId"]["S"]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def rebuild(store: EventStore, table: str, ids: Iterable[str] | None = None) -> RebuildReport:
    report = RebuildReport()
    loader = AggregateLoader(store, None)  # folds with the aggregate's evolve, as the projector does
    for project_id in (ids if ids is not None else project_ids(store)):
        state = loader.load(project_domain.AGGREGATE, project_id).state  # the whole stream, no snapshot
        if state["version"] == 0:
            report.missing.append(project_id)
            continue
        try:
            store.client.put_item(
                TableName=table, Item=to_item(project_id, state),
                ConditionExpression="attribute_not_exists(id) OR version <= :v",
                ExpressionAttributeValues={":v": {"N": str(state["version"])}})
            report.rebuilt.append(project_id)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            report.newer_kept.append(project_id)
    log.info("read model rebuilt", extra={"rebuilt": len(report.rebuilt), "newerKept": len(report.newer_kept),
                                          "missing": len(report.missing)})
    return report
