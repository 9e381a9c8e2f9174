"""Append-only event streams in DynamoDB (docs/eventstore.md), with optimistic concurrency.

An append writes events `expected+1 .. expected+n` with `attribute_not_exists` conditions, so two writers that
read the same version can never both win; an exact expected version N > 0 also checks that event N exists, so no
caller can leave a gap, unless the caller has just read the stream at N (`head_read`). The write is one
conditional PutItem when it is a single item (one event, no record, no check: 1 write unit per KB), else one
TransactWriteItems (2 units per KB per item), so a command's events and whatever must go with them are stored all
together or not at all. A refused event write returns the event already stored there (ALL_OLD, no extra request):
AppendConflict.existing, which lets a command recognise its own earlier attempt.
"""

from __future__ import annotations

import logging
from typing import Any
from collections.abc import Iterator

import boto3
from botocore.exceptions import ClientError

from chronicle.errors import PayloadTooLarge
from chronicle.eventstore.append_plan import ANY, NO_STREAM, AppendPlan, AppendRequest, ExpectedVersion, plan
from chronicle.eventstore.chain import GENESIS, chain_from
from chronicle.eventstore.items import MAX_ITEM_BYTES, from_item, item_size
from chronicle.eventstore.refusals import (AppendConflict, CommandAlreadyRecorded, ConditionFailed, FactsChanged,
                                           InvalidEvent, StreamIncomplete)
from chronicle.schemas import SchemaRegistry, registry

log = logging.getLogger(__name__)

__all__ = ["ANY", "NO_STREAM", "AppendConflict", "AppendRequest", "CommandAlreadyRecorded", "ConditionFailed",
           "EventStore", "ExpectedVersion", "FactsChanged", "InvalidEvent", "StreamIncomplete"]


class EventStore:
    def __init__(self, event_table: str, command_table: str | None = None, client: Any = None,
                 schemas: SchemaRegistry | None = None, archive: Any = None):
        self.event_table = event_table
        self.archive = archive  # chronicle.eventstore.archive.ArchiveReader: read-through of archived ranges
        self.command_table = command_table
        self.client = client or boto3.client("dynamodb")
        self.schemas = schemas or registry()

    # ---- writing ---------------------------------------------------------------------------------
    def append(self, aggregate_id: str, events: list[dict[str, Any]], expected_version: ExpectedVersion,
               command_record: dict[str, dict[str, Any]] | None = None,
               checks: list[dict[str, Any]] | None = None,
               extra_items: list[tuple[dict[str, Any], str]] | None = None,
               head_read: bool = False, previous_hash: str | None = None) -> list[dict[str, Any]]:
        """Append `events` (records without eventSequence) after `expected_version`; returns them numbered, each
        with its `hash` (chronicle.eventstore.chain).

        `previous_hash` is what the first new event chains from: the hash of event `expected_version` (GENESIS if
        that event has none). A caller that loaded the stream knows it (AggregateLoader's `Loaded.head_hash`);
        without it an exact version costs one GetItem more ("any" reads it with the version, a new stream chains
        from GENESIS).

        `checks` ([{aggregateId, version}] of other streams) makes the append conditional on each of those streams
        still being at that version: a ConditionCheck that event version+1 does not exist, in the same transaction
        (FactsChanged when one moved).

        `extra_items` are (TransactWriteItems item, tag) written in the same transaction (a reservation, a key):
        all or nothing with the events.

        `head_read`: the caller read the stream at `expected_version` just before (events are never deleted, so
        event N exists and needs no ConditionCheck).

        Raises AppendConflict when the stream moved, CommandAlreadyRecorded when `command_record`'s commandId
        is taken, ConditionFailed(tag) when an extra item's condition failed (and the stream did not move),
        PayloadTooLarge (before any write) when DynamoDB's limits would be broken, InvalidEvent when an
        event does not match its schema.
        """
        return self.execute(AppendRequest(aggregate_id, events, expected_version, command_record,
                                          tuple(checks or ()), tuple(extra_items or ()), head_read, previous_hash))

    def execute(self, request: AppendRequest) -> list[dict[str, Any]]:
        """Plan the append (numbered, checked), chain it, write it in one request; a refusal is its exception."""
        if not request.events:
            return []
        base, previous_hash = self._base(request)
        planned = plan(request, base, self.schemas)
        if previous_hash is None:
            previous_hash = GENESIS if base == 0 else self._hash_of(request.aggregate_id, base)
        planned.sealed(previous_hash, self.event_table, self.command_table)
        try:
            self._write([write.entry for write in planned.writes])
        except ClientError as error:
            raise self._refusal(planned, error) from None
        return planned.numbered

    def _base(self, request: AppendRequest) -> tuple[int, str | None]:
        """The version the events follow, and what the first chains from when already known."""
        if request.expected_version == ANY:
            base, head_hash = self.head(request.aggregate_id)
            return base, request.previous_hash or head_hash
        if request.expected_version == NO_STREAM:
            return 0, GENESIS
        return int(request.expected_version), request.previous_hash

    @staticmethod
    def _refusal(planned: AppendPlan, error: ClientError) -> Exception:
        code = error.response["Error"]["Code"]
        if code == "ConditionalCheckFailedException":  # the single PutItem: the event's own condition
            return planned.conflict(error.response.get("Item"))
        if code == "TransactionCanceledException":
            return planned.refusal(error.response.get("CancellationReasons", []))
        if code == "ValidationException" and "size" in error.response["Error"].get("Message", "").lower():
            # DynamoDB measured an item over its limit that our estimate let through (moto's limit is
            # 405,000 bytes, AWS documents 409,600): the write was refused whole, so nothing is stored.
            return PayloadTooLarge(
                f"DynamoDB refused an event of this command as too large: {error.response['Error']['Message']}",
                [{"bytes": max(item_size(item) for item in planned.items), "limit": MAX_ITEM_BYTES}])
        return error

    def _write(self, writes: list[dict[str, Any]]) -> None:
        """One request: a single Put as a conditional PutItem (half the write units of a transaction), anything
        more (several events, a ConditionCheck, a record or reservation that must go with them) as one
        TransactWriteItems."""
        if len(writes) == 1 and "Put" in writes[0]:
            self.client.put_item(**writes[0]["Put"])
        else:
            self.client.transact_write_items(TransactItems=writes)

    # ---- reading ---------------------------------------------------------------------------------
    def read(self, aggregate_id: str, from_sequence: int = 1, to_sequence: int | None = None,
             upcast: bool = True) -> list[dict[str, Any]]:
        """The stream's events in order, optionally a sequence range (inclusive), as the current schema
        versions unless `upcast=False`."""
        return list(self.iter_events(aggregate_id, from_sequence, to_sequence, upcast))

    def iter_events(self, aggregate_id: str, from_sequence: int = 1, to_sequence: int | None = None,
                    upcast: bool = True) -> Iterator[dict[str, Any]]:
        for item in self.iter_items(aggregate_id, from_sequence, to_sequence):
            event = from_item(item)
            yield self.schemas.upcast(event) if upcast else event

    def iter_items(self, aggregate_id: str, from_sequence: int = 1, to_sequence: int | None = None,
                   sources: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """The stream's items as stored, in order, reading archived ranges through S3 (when this store has an
        archive) where the table lacks them. `sources`, when given, gets "table" or "archive" per item.

        The table is read first; the archive only when it shows a hole: a table event after `from` with events
        missing before it, or fewer events than a bounded range asked for. The newest event of a stream is never
        archived, so an open-ended read whose table part is empty has reached the stream's end: a load from a
        snapshot never touches S3.
        """
        from_sequence = max(from_sequence, 1)
        to_sequence_ = 2**62 if to_sequence is None else to_sequence
        if to_sequence_ < from_sequence:
            return
        expected = from_sequence
        for item in self.table_items(aggregate_id, from_sequence, to_sequence_):
            sequence = int(item["eventSequence"]["N"])
            if sequence > expected:
                yield from self._from_archive(aggregate_id, expected, sequence - 1, sources, required=True)
            if sources is not None:
                sources.append("table")
            yield item
            expected = sequence + 1
        if to_sequence is not None and expected <= to_sequence:
            yield from self._from_archive(aggregate_id, expected, to_sequence, sources, required=False)

    def _from_archive(self, aggregate_id: str, first: int, last: int, sources: list[str] | None,
                      required: bool) -> Iterator[dict[str, Any]]:
        if self.archive is None:
            if required:
                raise StreamIncomplete(aggregate_id, first, last)
            return
        found = 0
        for item in self.archive.read(aggregate_id, first, last):
            if sources is not None:
                sources.append("archive")
            found += 1
            yield item
        if required and found != last - first + 1:
            raise StreamIncomplete(aggregate_id, first, last)

    def table_items(self, aggregate_id: str, first: int, last: int) -> Iterator[dict[str, Any]]:
        """The items of first..last that are in the table (no read-through), as stored."""
        request = {
            "TableName": self.event_table,
            "KeyConditionExpression": "aggregateId = :id AND eventSequence BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {":id": {"S": aggregate_id}, ":lo": {"N": str(first)},
                                          ":hi": {"N": str(last)}},
            "ConsistentRead": True,
        }
        while True:  # DynamoDB pages at 1 MB
            page = self.client.query(**request)
            yield from page["Items"]
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def read_back(self, aggregate_id: str, since: str) -> list[dict[str, Any]]:
        """The stream's events stored with a timestamp at or after `since` (timestamps never decrease along a
        stream), oldest first, as stored; read backwards from the head so only those are read."""
        request = {
            "TableName": self.event_table, "KeyConditionExpression": "aggregateId = :id",
            "ExpressionAttributeValues": {":id": {"S": aggregate_id}}, "ScanIndexForward": False,
            "ConsistentRead": True, "Limit": 25,
        }
        found: list[dict[str, Any]] = []
        while True:
            page = self.client.query(**request)
            for item in page["Items"]:
                event = from_item(item)
                if event["timestamp"] < since:
                    return found[::-1]
                found.append(event)
            if "LastEvaluatedKey" not in page:
                return found[::-1]
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def version(self, aggregate_id: str) -> int:
        """The stream's last sequence number; 0 when it does not exist."""
        return self.head(aggregate_id)[0]

    def head(self, aggregate_id: str) -> tuple[int, str]:
        """The stream's last sequence number (0: no stream) and what a next event chains from (one Query)."""
        page = self.client.query(
            TableName=self.event_table, KeyConditionExpression="aggregateId = :id",
            ExpressionAttributeValues={":id": {"S": aggregate_id}}, ProjectionExpression="eventSequence, #h",
            ExpressionAttributeNames={"#h": "hash"}, ScanIndexForward=False, Limit=1, ConsistentRead=True)
        if not page["Items"]:
            return 0, GENESIS
        return int(page["Items"][0]["eventSequence"]["N"]), chain_from(page["Items"][0])

    def _hash_of(self, aggregate_id: str, sequence: int) -> str:
        item = self.client.get_item(
            TableName=self.event_table, ConsistentRead=True, ProjectionExpression="#h",
            ExpressionAttributeNames={"#h": "hash"},
            Key={"aggregateId": {"S": aggregate_id}, "eventSequence": {"N": str(sequence)}}).get("Item")
        return chain_from(item)
