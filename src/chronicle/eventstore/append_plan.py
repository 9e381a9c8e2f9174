"""An append as a plan: the request, the items it writes, and what each item's failure means.

`AppendRequest` is what a caller asks (chronicle.eventstore.store.EventStore.append documents each field). `plan`
numbers the events, checks them against their schemas and DynamoDB's limits; `AppendPlan.sealed` chains them from
the previous event's hash and lists the writes. Each `Write` carries its meaning, so a cancelled transaction maps
to one exception by the position of each cancellation reason, with no offsets to keep in step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from chronicle.errors import PayloadTooLarge
from chronicle.eventstore.chain import GENESIS, seal
from chronicle.eventstore.items import (MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS, from_item,
                                        item_size, to_item)
from chronicle.eventstore.refusals import (AppendConflict, CommandAlreadyRecorded, ConditionFailed, FactsChanged,
                                           InvalidEvent)
from chronicle.schemas import SchemaRegistry

log = logging.getLogger(__name__)

NO_STREAM: Literal["no-stream"] = "no-stream"  # a create command: the stream must not exist yet
ANY: Literal["any"] = "any"  # append after whatever is there now (the store reads the version first)
ExpectedVersion = int | Literal["no-stream", "any"]
FAILED = "ConditionalCheckFailed"
Item = dict[str, Any]


@dataclass(frozen=True)
class AppendRequest:
    aggregate_id: str
    events: Sequence[dict[str, Any]]
    expected_version: ExpectedVersion
    command_record: Item | None = None
    checks: Sequence[dict[str, Any]] = ()
    extra_items: Sequence[tuple[Item, str]] = ()
    head_read: bool = False
    previous_hash: str | None = None

    @property
    def other_checks(self) -> list[dict[str, Any]]:
        """The checks on other streams (a check of the appended stream itself is the append's own condition)."""
        return [c for c in self.checks if c["aggregateId"] != self.aggregate_id]


@dataclass(frozen=True)
class Write:
    """One TransactWriteItems entry and what its ConditionalCheckFailed means."""

    entry: Item
    meaning: Literal["event", "previous", "check", "extra", "record"]
    check: dict[str, Any] | None = None  # "check": the other stream's {aggregateId, version}
    tag: str = ""  # "extra": the caller's tag (ConditionFailed(tag))


@dataclass
class AppendPlan:
    request: AppendRequest
    base: int  # the version the events follow
    numbered: list[dict[str, Any]]  # the records with aggregateId and eventSequence (and, once sealed, hash)
    items: list[Item]  # their DynamoDB items
    check_previous: bool  # the caller's exact version is checked: event `base` exists
    writes: list[Write] = field(default_factory=list)

    def sealed(self, previous_hash: str, event_table: str, command_table: str | None) -> AppendPlan:
        """Chain the items from `previous_hash` (computed here, stored in the same request: the chain costs no
        request) and list the writes."""
        seal(self.items, previous_hash)
        self.numbered = [{**e, "hash": item["hash"]["S"]} for e, item in zip(self.numbered, self.items, strict=True)]
        self.writes = _writes(self, event_table, command_table)
        return self

    def refusal(self, reasons: list[dict[str, Any]]) -> Exception:
        """The exception a cancelled transaction means, from its CancellationReasons (one per write, in order)."""
        paired = list(zip(self.writes, reasons, strict=False))
        failed = [write for write, reason in paired if reason.get("Code") == FAILED]
        complete = len(reasons) == len(self.writes)  # else the positions cannot be trusted for a record or a check
        request = self.request
        if complete and any(w.meaning == "record" for w in failed):
            return CommandAlreadyRecorded(request.command_record["commandId"]["S"])
        moved = [w.check for w in failed if w.meaning == "check"] if complete else []
        if moved:
            return FactsChanged(request.aggregate_id, moved)
        stream_moved = any(w.meaning in ("event", "previous") for w in failed)
        extra = next((w for w in failed if w.meaning == "extra"), None)
        if extra is not None and not stream_moved:
            return ConditionFailed(extra.tag)
        # ConditionalCheckFailed on an event, or TransactionConflict with a concurrent writer.
        existing = next((r["Item"] for w, r in paired if w.meaning == "event" and r.get("Item")), None)
        return self.conflict(existing)

    def conflict(self, existing: Item | None) -> AppendConflict:
        return AppendConflict(self.request.aggregate_id, self.request.expected_version,
                              from_item(existing) if existing else None)


def plan(request: AppendRequest, base: int, schemas: SchemaRegistry) -> AppendPlan:
    """Number the events after `base`, check each against its schema, and check DynamoDB's limits (the items
    sealed once from GENESIS: a hash of the final size, so the limits count it). Raises InvalidEvent or
    PayloadTooLarge before anything is written."""
    numbered = [{**event, "aggregateId": request.aggregate_id, "eventSequence": base + i}
                for i, event in enumerate(request.events, start=1)]
    for event in numbered:
        check_schema(schemas, event)
    items = [to_item(event) for event in numbered]
    seal(items, GENESIS)
    # An exact version is the caller's word: check that event `base` exists, so that a version from the future
    # can never leave a gap (ANY read it from the store, NO_STREAM starts at 1).
    check_previous = isinstance(request.expected_version, int) and base > 0 and not request.head_read
    check_limits(items, request.command_record,
                 int(check_previous) + len(request.other_checks) + len(request.extra_items))
    return AppendPlan(request, base, numbered, items, check_previous)


def _writes(plan_: AppendPlan, event_table: str, command_table: str | None) -> list[Write]:
    request = plan_.request
    writes = [Write({"Put": {"TableName": event_table, "Item": item,
                             "ConditionExpression": "attribute_not_exists(eventSequence)",
                             "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}, "event") for item in plan_.items]
    if plan_.check_previous:
        writes.append(Write({"ConditionCheck": {
            "TableName": event_table, "ConditionExpression": "attribute_exists(eventSequence)",
            "Key": {"aggregateId": {"S": request.aggregate_id}, "eventSequence": {"N": str(plan_.base)}}}},
            "previous"))
    for check in request.other_checks:  # the other stream has no event after the version the decision read
        writes.append(Write({"ConditionCheck": {
            "TableName": event_table, "ConditionExpression": "attribute_not_exists(eventSequence)",
            "Key": {"aggregateId": {"S": check["aggregateId"]},
                    "eventSequence": {"N": str(int(check["version"]) + 1)}}}}, "check", check=check))
    # a reservation, a key: all or nothing with the events
    writes.extend(Write(item, "extra", tag=tag) for item, tag in request.extra_items)
    if request.command_record is not None:
        writes.append(Write({"Put": {"TableName": command_table, "Item": request.command_record,
                                     "ConditionExpression": "attribute_not_exists(commandId)"}}, "record"))
    return writes


def check_schema(schemas: SchemaRegistry, event: dict[str, Any]) -> None:
    errors = schemas.event_errors(event["eventType"], int(event["version"]), event["eventData"])
    if errors:
        path = schemas.event_schema_path(event["eventType"], int(event["version"]))
        log.error("refusing to store an event its schema rejects", extra={
            "event": event, "schema": str(path), "errors": errors})
        raise InvalidEvent(f"{event['eventType']} v{event['version']} does not match {path.name}", errors)


def check_limits(items: list[Item], command_record: Item | None, extra_items: int = 0) -> None:
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
