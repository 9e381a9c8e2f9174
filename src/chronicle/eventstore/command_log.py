"""The CommandLog: what each client commandId answered, so the same command sent again answers the same
(docs/reference/errors.md), stored in the append's own transaction (docs/decisions/0002).

This module owns the record: its key, its item shape, the fingerprint that tells "the same command" from "another
command under the same key", and its TTL. A commandId is the client's key *for its own commands*: records are
keyed by (actor, commandId), so another actor reusing it neither sees the first command nor blocks it
(docs/decisions/0010). Records written before that change are keyed by the commandId alone; they are still honoured
when they hold the same command of the same actor (the fingerprint covers the actor).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chronicle.eventstore.items import dumps

Item = dict[str, dict[str, str]]


@dataclass(frozen=True)
class Recorded:
    """A record found for a command's key: whether it is this very command, and what it answered."""

    same_command: bool
    response: dict[str, Any]
    command_type: str
    aggregate_id: str


def fingerprint(command: dict[str, Any]) -> str:
    """What makes two requests 'the same command' for an idempotency key: everything the client chose."""
    chosen = {k: command.get(k) for k in ("commandType", "expectedVersion", "actorId", "data")}
    chosen["aggregateId"] = command["aggregateId"] if command.get("aggregateIdGiven") else None
    return hashlib.sha256(dumps(chosen).encode()).hexdigest()


def record_key(actor_id: str, command_id: str) -> str:
    """The record's key: the commandId within its actor's own key space (the actor hashed: an id may be 2 KB)."""
    return f"by#{hashlib.sha256(actor_id.encode()).hexdigest()[:40]}#{command_id}"


def _now() -> datetime:
    return datetime.now(UTC)


class CommandLog:
    def __init__(self, client: Any, table: str | None):
        self.client, self.table = client, table

    def item(self, command: dict[str, Any], response: dict[str, Any]) -> Item:
        """The record of `command` answered by `response`, for the append's transaction."""
        item = {"commandId": {"S": record_key(command["actorId"], command["commandId"])},
                "fingerprint": {"S": fingerprint(command)},
                "commandType": {"S": command["commandType"]}, "aggregateId": {"S": command["aggregateId"]},
                "response": {"S": dumps(response)},
                "recordedAt": {"S": _now().isoformat(timespec="milliseconds").replace("+00:00", "Z")}}
        days = int(os.environ.get("IDEMPOTENCY_WINDOW_DAYS") or 0)
        if days > 0:  # the table's TTL attribute: DynamoDB deletes the record (free) some time after it expires
            item["expiresAt"] = {"N": str(int((_now() + timedelta(days=days)).timestamp()))}
        return item

    def find(self, command: dict[str, Any], consistent: bool = True) -> Recorded | None:
        """The record of this actor's commandId, if any (one BatchGetItem of its key and the unscoped key records
        were written under before decision 0010; an unscoped record counts only when it is this same command)."""
        scoped, legacy = record_key(command["actorId"], command["commandId"]), command["commandId"]
        items = self._get({scoped, legacy}, consistent)
        mine = fingerprint(command)
        if scoped in items:
            return self._recorded(items[scoped], mine)
        if legacy in items and items[legacy]["fingerprint"]["S"] == mine:
            return self._recorded(items[legacy], mine)
        return None  # an unscoped record of another command may be another actor's: not ours to answer

    def _get(self, keys: set[str], consistent: bool) -> dict[str, Item]:
        request = {self.table: {"Keys": [{"commandId": {"S": k}} for k in sorted(keys)],
                                "ConsistentRead": consistent}}
        found: dict[str, Item] = {}
        while request:
            page = self.client.batch_get_item(RequestItems=request)
            for item in page.get("Responses", {}).get(self.table, []):
                found[item["commandId"]["S"]] = item
            request = page.get("UnprocessedKeys") or {}
        return found

    @staticmethod
    def _recorded(item: Item, mine: str) -> Recorded:
        return Recorded(item["fingerprint"]["S"] == mine, json.loads(item["response"]["S"]),
                        item["commandType"]["S"], item["aggregateId"]["S"])
