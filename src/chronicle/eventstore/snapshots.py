"""Snapshots: an aggregate's folded state every N events, so a load is one snapshot read plus one query of
the tail, whatever the stream's length.

A snapshot records what it was built with (`builtWith`: the aggregate's state_version and the current schema
version of each of its event types). When that changes, the snapshot is ignored (full replay) and the next
load writes a fresh one. Writing a snapshot never fails a command.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chronicle.domain import Aggregate, State
from chronicle.eventstore.chain import GENESIS, LinkChecker
from chronicle.eventstore.heads import record_head
from chronicle.eventstore.items import dumps, from_item
from chronicle.eventstore.store import EventStore

log = logging.getLogger(__name__)


def built_with(aggregate: Aggregate, store: EventStore) -> str:
    versions = ",".join(f"{t}=v{store.schemas.current_version(t)}" for t in sorted(aggregate.event_types)
                        if t in store.schemas.event_versions)
    # chain=1: snapshots carry the head event's hash (headHash); chain=2: and the stream's sealing point
    # (sealedFrom, chronicle.eventstore.heads). Older ones are replaced on the next load.
    return f"state=v{aggregate.state_version};chain=2;{versions}"


@dataclass
class Loaded:
    state: State
    version: int  # the last event folded in (0: no stream)
    last_timestamp: str | None
    snapshot_version: int  # the snapshot it started from (0: none)
    events_read: int
    head_hash: str = GENESIS  # what the next event chains from (chronicle.eventstore.chain)
    # The last events this load read (at most RECENT_KEPT, oldest first, as stored): a command recognises its own
    # earlier attempt among them without another read (chronicle.commands).
    recent: list[dict[str, Any]] = field(default_factory=list)
    sealed_from: int | None = None  # the stream's first event with a hash (None: none has one)
    # The stream exists but is of another aggregate type (its first event is not one of this aggregate's): loaded
    # as no stream, so a command names it as not found and a read shows nothing (docs/decisions/0010).
    foreign: bool = False


RECENT_KEPT = 50


def _foreign(aggregate: Aggregate, event: dict[str, Any]) -> bool:
    """A stream's type is its first event's: one that is not this aggregate's makes the stream another's."""
    return event["eventSequence"] == 1 and event["eventType"] not in aggregate.event_types


def _evolve(aggregate: Aggregate, aggregate_id: str, state: State, event: dict[str, Any]) -> State:
    if event["eventType"] in aggregate.event_types:
        return aggregate.evolve(state, event)
    # Only the bug decision 0010 fixed could store it: never folded by the wrong evolve().
    log.warning("skipping an event of another aggregate type", extra={
        "aggregateId": aggregate_id, "eventType": event["eventType"], "aggregateType": aggregate.type})
    return state


class AggregateLoader:
    def __init__(self, store: EventStore, snapshot_table: str | None = None, snapshots: bool = True):
        self.store = store
        self.snapshot_table = snapshot_table
        self.snapshots = snapshots and snapshot_table is not None

    def load(self, aggregate: Aggregate, aggregate_id: str, as_of_version: int | None = None,
             as_of_time: str | None = None) -> Loaded:
        """The aggregate's state, now or as of a version (events 1..N) or a time (events with timestamp <= T).

        Timestamps are ISO-8601 UTC with milliseconds, so they compare as strings.
        """
        snapshot = self._read_snapshot(aggregate, aggregate_id) if self.snapshots else None
        if snapshot and ((as_of_version is not None and snapshot["version"] > as_of_version)
                         or (as_of_time is not None and snapshot["lastTimestamp"] > as_of_time)):
            snapshot = None
        snapshot = snapshot or {"state": aggregate.initial_state(), "version": 0, "lastTimestamp": None,
                                "headHash": GENESIS, "sealedFrom": None}
        state, version, last_timestamp = snapshot["state"], snapshot["version"], snapshot["lastTimestamp"]
        head_hash, sealed_from = snapshot["headHash"], snapshot["sealedFrom"]
        read = 0
        recent: deque[dict[str, Any]] = deque(maxlen=RECENT_KEPT)
        checker = LinkChecker(aggregate_id, head_hash)  # a forged event is refused, never folded (ChainBroken)
        for item in self.store.iter_items(aggregate_id, version + 1, as_of_version):
            event = self.store.schemas.upcast(from_item(checker.check(item)))
            if as_of_time is not None and event["timestamp"] > as_of_time:
                break
            if _foreign(aggregate, event):  # the stream is of another type: none of this one (decision 0010)
                return Loaded(aggregate.initial_state(), 0, None, 0, read + 1, foreign=True)
            state = _evolve(aggregate, aggregate_id, state, event)
            version, last_timestamp, read = event["eventSequence"], event["timestamp"], read + 1
            head_hash = event.get("hash") or GENESIS
            if sealed_from is None and event.get("hash"):
                sealed_from = version
            recent.append(event)
        loaded = Loaded(state, version, last_timestamp, snapshot["version"], read, head_hash,
                        recent=list(recent), sealed_from=sealed_from)
        if as_of_version is None and as_of_time is None and read >= aggregate.snapshot_every:
            self.save_snapshot(aggregate, aggregate_id, loaded)  # the tail grew long (or the snapshot was stale)
        return loaded

    def after_append(self, aggregate: Aggregate, aggregate_id: str, before: Loaded,
                     new_events: list[dict[str, Any]]) -> None:
        """Record the stream's new head (chronicle.eventstore.heads), and snapshot when the append crossed a
        multiple of the aggregate's interval."""
        if not self.snapshots or not new_events:
            return
        last = new_events[-1]["eventSequence"]
        sealed_from = before.sealed_from or next((e["eventSequence"] for e in new_events if e.get("hash")), None)
        record_head(self.store.client, self.snapshot_table, aggregate_id, last, new_events[-1].get("hash") or GENESIS,
                    sealed_from)
        every = aggregate.snapshot_every
        if last // every == before.version // every:
            return
        state = before.state
        for event in new_events:
            state = aggregate.evolve(state, self.store.schemas.upcast(event))
        self.save_snapshot(aggregate, aggregate_id,
                           Loaded(state, last, new_events[-1]["timestamp"], before.snapshot_version, 0,
                                  new_events[-1].get("hash") or GENESIS, sealed_from=sealed_from))

    def save_snapshot(self, aggregate: Aggregate, aggregate_id: str, loaded: Loaded) -> None:
        if not self.snapshots or loaded.version == 0:
            return
        try:
            self.store.client.put_item(
                TableName=self.snapshot_table,
                Item={"aggregateId": {"S": aggregate_id}, "version": {"N": str(loaded.version)},
                      "aggregateType": {"S": aggregate.type}, "state": {"S": dumps(loaded.state)},
                      "lastTimestamp": {"S": loaded.last_timestamp or ""},
                      "headHash": {"S": loaded.head_hash},
                      **({"sealedFrom": {"N": str(loaded.sealed_from)}} if loaded.sealed_from else {}),
                      "builtWith": {"S": built_with(aggregate, self.store)}},
                # never replace a newer snapshot with an older one (two writers may race)
                ConditionExpression="attribute_not_exists(aggregateId) OR version < :v OR builtWith <> :b",
                ExpressionAttributeValues={":v": {"N": str(loaded.version)},
                                           ":b": {"S": built_with(aggregate, self.store)}})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":  # else a newer one is there
                log.warning("snapshot not written", extra={"aggregateId": aggregate_id, "error": str(error)})
        except Exception as error:  # noqa: BLE001 - a snapshot is an optimisation: it must never fail a command
            log.warning("snapshot not written", extra={"aggregateId": aggregate_id, "error": repr(error)})

    def _read_snapshot(self, aggregate: Aggregate, aggregate_id: str) -> dict[str, Any] | None:
        try:
            item = self.store.client.get_item(TableName=self.snapshot_table, Key={"aggregateId": {"S": aggregate_id}},
                                              ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as error:  # a snapshot is an optimisation: replay instead
            log.warning("snapshot not read", extra={"aggregateId": aggregate_id, "error": str(error)})
            return None
        if not item or item["builtWith"]["S"] != built_with(aggregate, self.store):
            return None
        return {"version": int(item["version"]["N"]), "state": json.loads(item["state"]["S"]),
                "lastTimestamp": item["lastTimestamp"]["S"], "headHash": item["headHash"]["S"],
                "sealedFrom": int(item["sealedFrom"]["N"]) if "sealedFrom" in item else None}
