"""The archive workflow's two steps (statemachine/ArchiveEvents.asl.json -> functions/archive_events):

- `plan`: a page of streams that have a snapshot (only those can have archivable events);
- `archive_stream`: archive one range of one stream (at most MAX_EVENTS_PER_OBJECT events) and say whether more
  is left; the state machine loops until it is not.

The step order and why each is idempotent are in chronicle.eventstore.archive's docstring.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from chronicle.domain import AGGREGATES
from chronicle.eventstore.archive import (MAX_EVENTS_PER_OBJECT, ArchiveReader, ArchiveRefused, cutoff_for, decode,
                                          encode, object_key)
from chronicle.eventstore.chain import GENESIS, stored_hash
from chronicle.eventstore.snapshots import built_with
from chronicle.eventstore.store import EventStore

log = logging.getLogger(__name__)

PLAN_PAGE = 100  # streams per plan page: keeps the state data far below Step Functions' 256 KiB


class Archiver:
    def __init__(self, store: EventStore, reader: ArchiveReader, snapshot_table: str,
                 max_events: int = MAX_EVENTS_PER_OBJECT):
        self.store, self.reader, self.snapshot_table = store, reader, snapshot_table
        self.dynamodb, self.s3 = store.client, reader.s3
        self.max_events = max_events

    # ---- step 1: which streams ------------------------------------------------------------------------
    def plan(self, next_token: str | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {"TableName": self.snapshot_table, "Limit": PLAN_PAGE,
                                   "ProjectionExpression": "aggregateId, version",
                                   "FilterExpression": "version > :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
        if next_token:
            request["ExclusiveStartKey"] = json.loads(base64.urlsafe_b64decode(next_token))
        page = self.dynamodb.scan(**request)
        token = page.get("LastEvaluatedKey")
        return {"streams": [item["aggregateId"]["S"] for item in page["Items"]],
                "nextToken": base64.urlsafe_b64encode(json.dumps(token).encode()).decode() if token else None}

    # ---- step 2: one range of one stream --------------------------------------------------------------
    def archive_stream(self, aggregate_id: str, cutoff: str) -> dict[str, Any]:
        outcome: dict[str, Any] = {"aggregateId": aggregate_id, "archived": 0, "first": None, "last": None,
                                   "more": False}
        last_entry = self.reader.archived_through(aggregate_id)
        if last_entry:  # an earlier run may have stopped between its catalog entry and its last delete
            left = list(self.store.table_items(aggregate_id, last_entry["firstSequence"], last_entry["lastSequence"]))
            if left:
                _, archived_items, intact = self.reader.fetch(last_entry)
                if not intact:
                    raise ArchiveRefused(f"{last_entry['key']} does not match its catalog entry: not deleting")
                archived = {item["eventSequence"]["N"]: item for item in archived_items}
                if any(item["eventSequence"]["N"] not in archived for item in left):
                    raise ArchiveRefused(f"{last_entry['key']} lacks events the table holds in its range")
                self._delete(aggregate_id, [archived[item["eventSequence"]["N"]] for item in left])
        through = last_entry["lastSequence"] if last_entry else 0
        chain_from = last_entry["chainHead"] if last_entry else GENESIS

        snapshot = self._snapshot(aggregate_id)
        if snapshot is None:
            return outcome
        head, _ = self.store.head(aggregate_id)
        upper = min(snapshot["version"], head - 1)  # never the newest event, never past the snapshot
        if upper <= through:
            return outcome

        adopted = self._adopt(aggregate_id, through + 1, upper)
        if adopted is not None:
            manifest, items = adopted
            key, version_id = manifest["key"], manifest["versionId"]
        else:
            items = self._eligible(aggregate_id, through + 1, upper, cutoff)
            if not items:
                return outcome
            key, version_id, manifest = self._put_verified(aggregate_id, snapshot["aggregateType"], items, chain_from)

        first, last = int(items[0]["eventSequence"]["N"]), int(items[-1]["eventSequence"]["N"])
        if not self._catalog(aggregate_id, snapshot["aggregateType"], first, last, key, version_id, manifest):
            outcome["more"] = True  # another run catalogued this first sequence: look again
            return outcome
        self._delete(aggregate_id, items)
        outcome.update(archived=len(items), first=first, last=last, more=last < upper)
        log.info("archived", extra=outcome)
        return outcome

    def _snapshot(self, aggregate_id: str) -> dict[str, Any] | None:
        """The stream's snapshot if it is current (a stale one is ignored by loads, which would then replay
        through S3: archiving behind it would put S3 on the command path)."""
        item = self.dynamodb.get_item(TableName=self.snapshot_table, Key={"aggregateId": {"S": aggregate_id}},
                                      ConsistentRead=True).get("Item")
        if not item or item.get("aggregateType", {}).get("S") not in AGGREGATES:
            return None
        aggregate = AGGREGATES[item["aggregateType"]["S"]]
        if item["builtWith"]["S"] != built_with(aggregate, self.store):
            return None
        return {"version": int(item["version"]["N"]), "aggregateType": aggregate.type}

    def _eligible(self, aggregate_id: str, first: int, upper: int, cutoff: str) -> list[dict]:
        items = []
        for item in self.store.table_items(aggregate_id, first, min(upper, first + self.max_events - 1)):
            if item["timestamp"]["S"] > cutoff:
                break  # timestamps never decrease within a stream
            if int(item["eventSequence"]["N"]) != first + len(items):
                raise ArchiveRefused(f"{aggregate_id}: event {first + len(items)} is missing from the table")
            items.append(item)
        return items

    def _adopt(self, aggregate_id: str, first: int, upper: int) -> tuple[dict, list[dict]] | None:
        """An object an interrupted run wrote for this first sequence (before its catalog entry): use it."""
        listing = self.s3.list_objects_v2(Bucket=self.reader.bucket, Prefix=object_key(aggregate_id, first))
        for obj in listing.get("Contents", []):
            got = self.s3.get_object(Bucket=self.reader.bucket, Key=obj["Key"])
            manifest, items, intact = decode(got["Body"].read())
            if intact and manifest["lastSequence"] <= upper and self._matches_table(aggregate_id, items):
                return {**manifest, "key": obj["Key"], "versionId": got.get("VersionId")}, items
        return None

    def _matches_table(self, aggregate_id: str, items: list[dict]) -> bool:
        first, last = int(items[0]["eventSequence"]["N"]), int(items[-1]["eventSequence"]["N"])
        return list(self.store.table_items(aggregate_id, first, last)) == items

    def _put_verified(self, aggregate_id: str, aggregate_type: str, items: list[dict],
                      chain_from: str) -> tuple[str, str | None, dict]:
        body, manifest = encode(aggregate_id, aggregate_type, items, chain_from)
        key = object_key(aggregate_id, manifest["firstSequence"], manifest["lastSequence"])
        put = self.s3.put_object(Bucket=self.reader.bucket, Key=key, Body=body, ContentType="application/x-ndjson",
                                 ContentEncoding="gzip", ChecksumAlgorithm="SHA256",
                                 Metadata={"content-sha256": manifest["contentSha256"]})
        version_id = put.get("VersionId")
        extra = {"VersionId": version_id} if version_id else {}
        back, back_items, intact = decode(self.s3.get_object(Bucket=self.reader.bucket, Key=key, **extra)["Body"].read())
        if not intact or back["contentSha256"] != manifest["contentSha256"] or back_items != items:
            raise ArchiveRefused(f"{key}: the object read back does not match what was written")
        return key, version_id, manifest

    def _catalog(self, aggregate_id: str, aggregate_type: str, first: int, last: int, key: str,
                 version_id: str | None, manifest: dict) -> bool:
        item = {"aggregateId": {"S": aggregate_id}, "firstSequence": {"N": str(first)},
                "lastSequence": {"N": str(last)}, "count": {"N": str(last - first + 1)}, "key": {"S": key},
                "contentSha256": {"S": manifest["contentSha256"]}, "chainHead": {"S": manifest["chainHead"]},
                "aggregateType": {"S": aggregate_type}, "archivedAt": {"S": manifest["createdAt"]}}
        if version_id:
            item["versionId"] = {"S": version_id}
        try:
            self.dynamodb.put_item(TableName=self.reader.catalog_table, Item=item,
                                   ConditionExpression="attribute_not_exists(aggregateId) OR #k = :k",
                                   ExpressionAttributeNames={"#k": "key"}, ExpressionAttributeValues={":k": {"S": key}})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _delete(self, aggregate_id: str, items: list[dict]) -> int:
        """Delete archived items still in the table, each only if it is the very item archived."""
        deleted = 0
        for item in items:
            condition = "attribute_not_exists(eventSequence) OR eventId = :id"
            values = {":id": item["eventId"]}
            if stored_hash(item):
                condition = "attribute_not_exists(eventSequence) OR (eventId = :id AND #h = :h)"
                values[":h"] = item["hash"]
            try:
                self.dynamodb.delete_item(
                    TableName=self.store.event_table, ConditionExpression=condition, ExpressionAttributeValues=values,
                    **({"ExpressionAttributeNames": {"#h": "hash"}} if ":h" in values else {}),
                    Key={"aggregateId": {"S": aggregate_id}, "eventSequence": item["eventSequence"]})
                deleted += 1
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    raise ArchiveRefused(f"{aggregate_id}: event {item['eventSequence']['N']} in the table differs "
                                         "from its archived copy; nothing more is deleted (run chronicle verify)") from None
                raise
        return deleted


# ---- the state machine's steps (functions/archive_events) -------------------------------------------------
def step(event: dict[str, Any], archiver: Archiver, default_days: float) -> dict[str, Any]:
    """One step of statemachine/ArchiveEvents.asl.json, chosen by event["action"]:

    plan    {"input": {olderThanDays?, cutoff?, nextToken?, totals?}} -> {olderThanDays, cutoff, streams,
            nextToken, hasMorePages, totals}; the first call fixes the cutoff for the whole run
    archiveStream {aggregateId, cutoff, archived?} -> {aggregateId, cutoff, archived (this stream, so far), more}
    tally   {"input": {... plan's output, results: [archiveStream outputs or {aggregateId, error}]}} -> plan's
            input for the next page, with totals updated
    """
    action = event.get("action")
    if action == "plan":
        given = event.get("input") or {}
        days = given.get("olderThanDays")
        days = default_days if days is None else float(days)
        if days < 0:
            raise ValueError("olderThanDays must be 0 or more")
        cutoff = given.get("cutoff") or cutoff_for(days)
        page = archiver.plan(given.get("nextToken"))
        return {"olderThanDays": days, "cutoff": cutoff, "streams": page["streams"], "nextToken": page["nextToken"],
                "hasMorePages": page["nextToken"] is not None,
                "totals": given.get("totals") or {"streams": 0, "events": 0, "failed": []}}
    if action == "archiveStream":
        outcome = archiver.archive_stream(event["aggregateId"], event["cutoff"])
        return {"aggregateId": event["aggregateId"], "cutoff": event["cutoff"],
                "archived": int(event.get("archived") or 0) + outcome["archived"], "more": outcome["more"]}
    if action == "tally":
        given = event["input"]
        totals = dict(given["totals"])
        results = given.get("results") or []
        totals["streams"] += sum(1 for r in results if r.get("archived"))
        totals["events"] += sum(int(r.get("archived") or 0) for r in results)
        totals["failed"] = totals["failed"] + [{"aggregateId": r["aggregateId"], "error": r["error"]}
                                               for r in results if r.get("error")]
        return {"olderThanDays": given["olderThanDays"], "cutoff": given["cutoff"], "nextToken": given["nextToken"],
                "hasMorePages": given["hasMorePages"], "totals": totals, "failedCount": len(totals["failed"])}
    raise ValueError(f"unknown archive step {action!r}")
