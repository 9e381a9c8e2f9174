"""Event records <-> DynamoDB items, and DynamoDB's item size rule.

eventData and metadata are stored as JSON strings (attribute type S): the stored bytes are exactly the JSON
that was validated against the schema, with no float/Decimal round trip.
"""

from __future__ import annotations

import json
from typing import Any

MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's hard item limit
MAX_TRANSACTION_ITEMS = 100  # TransactWriteItems
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024

_STRING_FIELDS = ("aggregateId", "eventId", "eventType", "correlationId", "timestamp", "version")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def to_item(event: dict[str, Any]) -> dict[str, dict[str, str]]:
    item = {name: {"S": str(event[name])} for name in _STRING_FIELDS}
    item["eventSequence"] = {"N": str(event["eventSequence"])}
    item["eventData"] = {"S": dumps(event["eventData"])}
    item["metadata"] = {"S": dumps(event["metadata"])}
    return item


def from_item(item: dict[str, dict[str, str]]) -> dict[str, Any]:
    event: dict[str, Any] = {name: item[name]["S"] for name in _STRING_FIELDS}
    event["eventSequence"] = int(item["eventSequence"]["N"])
    event["eventData"] = json.loads(item["eventData"]["S"])
    event["metadata"] = json.loads(item["metadata"]["S"])
    if "hash" in item:  # absent on events stored before the hash chain (chronicle.eventstore.chain)
        event["hash"] = item["hash"]["S"]
    return event


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """DynamoDB's item size: attribute names plus values (strings in UTF-8 bytes, numbers ~1 byte per two digits)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        (kind, raw), = value.items()
        if kind == "S":
            size += len(raw.encode())
        elif kind == "N":
            size += (len(raw.lstrip("-").replace(".", "")) + 1) // 2 + 1
        elif kind == "B":
            size += len(raw)
        else:  # BOOL / NULL and anything else we never write in bulk
            size += 1
    return size
