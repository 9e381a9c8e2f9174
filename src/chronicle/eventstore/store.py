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
from typing import Any, Literal
from collections.abc import Iterator

import boto3
from botocore.exceptions import ClientError

from chronicle.errors import ChronicleError, PayloadTooLarge
from chronicle.eventstore.chain import GENESIS, chain_from, seal
from chronicle.eventstore.items import (MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS, from_item,
                                        item_size, to_item)
from chronicle.schemas import SchemaRegistry, registry

log = logging.getLogger(__name__)

NO_STREAM: Literal["no-stream"] = "no-stream"  # a create command: the stream must not exist yet
ANY: Literal["any"] = "any"  # append after whatever is there now (the store reads the version first)
ExpectedVersion = int | Literal["no-stream", "any"]


class AppendConflict(Exception):
    """Another writer got there first: the stream is not at the expected version."""

    def __init__(self, aggregate_id: str, expected: ExpectedVersion, existing: dict[str, Any] | None = None):
        self.aggregate_id, self.expected = aggregate_id, expected
        self.existing = existing  # the stored event that refused the write, when DynamoDB returned it
        super().__init__(f"stream {aggregate_id!r} is not at version {expected}")


class FactsChanged(AppendConflict):
    """Another stream the command's decision relied on (a `checks` entry) is no longer at the version read."""

    def __init__(self, aggregate_id: str, checks: list[dict[str, Any]]):
        super().__init__(aggregate_id, "checked")
        self.checks = checks


class CommandAlreadyRecorded(Exception):
    """The command log already holds this commandId (a retry, or a reuse of the key)."""

    def __init__(self, command_id: str):
        self.command_id = command_id
        super().__init__(f"command {command_id!r} is already recorded")


class ConditionFailed(Exception):
    """A condition of one of the caller's extra transaction items failed (e.g. an email already reserved)."""

    def __init__(self, tag: str):
        self.tag = tag
        super().__init__(f"transaction condition {tag!r} failed")


class StreamIncomplete(Exception):
    """Events are missing from both the table and the archive: data loss (or tampering), never a normal state."""

    def __init__(self, aggregate_id: str, first: int, last: int):
        self.aggregate_id, self.first, self.last = aggregate_id, first, last
        super().__init__(f"stream {aggregate_id!r}: events {first}..{last} are neither in the table nor archived")


class InvalidEvent(ChronicleError):
    """The decider produced an event its own schema refuses: a bug, so the command fails and nothing is written."""

    code = "InternalError"


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
        extra_items = extra_items or []
        if not events:
            return []
        if expected_version == ANY:
            base, head_hash = self.head(aggregate_id)
            previous_hash = previous_hash or head_hash
        elif expected_version == NO_STREAM:
            base, previous_hash = 0, GENESIS
        else:
            base = int(expected_version)
        numbered = [{**event, "aggregateId": aggregate_id, "eventSequence": base + i}
                    for i, event in enumerate(events, start=1)]
        for event in numbered:
            self._check_schema(event)
        items = [to_item(event) for event in numbered]
        seal(items, GENESIS)  # a hash of the final size, so the limits below count it
        # An exact version is the caller's word: check that event `base` exists, so that a version from the future
        # can never leave a gap (ANY read it from the store, NO_STREAM starts at 1).
        check_previous = isinstance(expected_version, int) and base > 0 and not head_read
        checks = [c for c in (checks or []) if c["aggregateId"] != aggregate_id]
        self._check_limits(items, command_record,
                           extra_items=int(check_previous) + len(checks) + len(extra_items))
        if previous_hash is None:
            previous_hash = GENESIS if base == 0 else self._hash_of(aggregate_id, base)
        seal(items, previous_hash)  # computed here, stored in the same request: the chain costs no request
        numbered = [{**event, "hash": item["hash"]["S"]} for event, item in zip(numbered, items, strict=True)]

        puts = [{"Put": {"TableName": self.event_table, "Item": item,
                         "ConditionExpression": "attribute_not_exists(eventSequence)",
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}} for item in items]
        if check_previous:
            puts.append({"ConditionCheck": {
                "TableName": self.event_table, "ConditionExpression": "attribute_exists(eventSequence)",
                "Key": {"aggregateId": {"S": aggregate_id}, "eventSequence": {"N": str(base)}}}})
        first_check = len(puts)
        for check in checks:  # the other stream has no event after the version the decision read
            puts.append({"ConditionCheck": {
                "TableName": self.event_table, "ConditionExpression": "attribute_not_exists(eventSequence)",
                "Key": {"aggregateId": {"S": check["aggregateId"]},
                        "eventSequence": {"N": str(int(check["version"]) + 1)}}}})
        first_extra = len(puts)
        puts.extend(item for item, _ in extra_items)  # a reservation, a key: all or nothing with the events
        if command_record is not None:
            puts.append({"Put": {"TableName": self.command_table, "Item": command_record,
                                 "ConditionExpression": "attribute_not_exists(commandId)"}})
        try:
            self._write(puts)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "ConditionalCheckFailedException":
                existing = error.response.get("Item")
                raise AppendConflict(aggregate_id, expected_version, from_item(existing) if existing else None) \
                    from None
            if code == "TransactionCanceledException":
                cancelled = error.response.get("CancellationReasons", [])
                reasons = [r.get("Code") for r in cancelled]
                if command_record is not None and len(reasons) == len(puts) \
                        and reasons[-1] == "ConditionalCheckFailed":
                    raise CommandAlreadyRecorded(command_record["commandId"]["S"]) from None
                moved = [check for i, check in enumerate(checks)
                         if len(reasons) == len(puts) and reasons[first_check + i] == "ConditionalCheckFailed"]
                if moved:
                    raise FactsChanged(aggregate_id, moved) from None
                stream_moved = "ConditionalCheckFailed" in reasons[:first_check]
                for (_, tag), reason in zip(extra_items, reasons[first_extra:], strict=False):
                    if reason == "ConditionalCheckFailed" and not stream_moved:
                        raise ConditionFailed(tag) from None
                # ConditionalCheckFailed on an event, or TransactionConflict with a concurrent writer.
                existing = next((r["Item"] for r in cancelled[:len(items)] if r.get("Item")), None)
                raise AppendConflict(aggregate_id, expected_version, from_item(existing) if existing else None) \
                    from None
            if code == "ValidationException" and "size" in error.response["Error"].get("Message", "").lower():
                # DynamoDB measured an item over its limit that our estimate let through (moto's limit is
                # 405,000 bytes, AWS documents 409,600): the write was refused whole, so nothing is stored.
                raise PayloadTooLarge(
                    f"DynamoDB refused an event of this command as too large: {error.response['Error']['Message']}",
                    [{"bytes": max(item_size(item) for item in items), "limit": MAX_ITEM_BYTES}]) from None
            raise
        return numbered

    def _write(self, writes: list[dict[str, Any]]) -> None:
        """One request: a single Put as a conditional PutItem (half the write units of a transaction), anything
        more (several events, a ConditionCheck, a record or reservation that must go with them) as one
        TransactWriteItems."""
        if len(writes) == 1 and "Put" in writes[0]:
            self.client.put_item(**writes[0]["Put"])
        else:
            self.client.transact_write_items(TransactItems=writes)

    def _check_schema(self, event: dict[str, Any]) -> None:
        errors = self.schemas.event_errors(event["eventType"], int(event["version"]), event["eventData"])
        if errors:
            path = self.schemas.event_schema_path(event["eventType"], int(event["version"]))
            log.error("refusing to store an event its schema rejects", extra={
                "event": event, "schema": str(path), "errors": errors})
            raise InvalidEvent(f"{event['eventType']} v{event['version']} does not match {path.name}", errors)

    @staticmethod
    def _check_limits(items: list[dict], command_record: dict | None, extra_items: int = 0) -> None:
        sizes = [item_size(item) for item in items]
        for i, size in enumerate(sizes):
            if size > MAX_ITEM_BYTES:
                raise PayloadTooLarge(
                    f"The resulting event is {size} bytes; an event item may hold at most {MAX_ITEM_BYTES}.",
                    [{"eventIndex": i, "eventType": items[i]["eventType"]["S"], "bytes": size,
                      "limit": MAX_ITEM_BYTES}])
        count = len(items) + (command_record is not None) + extra_items
        total = sum(sizes) + (item_size(command_record) if command_record else 0)
        if count > MAX_TRANSACTION_ITEMS or total > MAX_TRANSACTION_BYTES:
            raise PayloadTooLarge(
                f"The command would append {len(items)} events ({total} bytes); one atomic append holds at most "
                f"{MAX_TRANSACTION_ITEMS} items and {MAX_TRANSACTION_BYTES} bytes.",
                [{"events": len(items), "bytes": total}])

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
