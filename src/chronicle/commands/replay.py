"""Recognising a command that was already stored, so that it answers what it answered the first time.

Two ways one command comes back. Step Functions retries AppendEvents when Lambda's answer is lost, with the same
input (the commandId ValidateCommand made): that retry recognises its earlier attempt by the events it stored,
whose metadata carries the commandId, among those stored since the command started (an update) or in the event
that refuses its create (returned by the failed write). A client's commandId can come back much later, in another
execution: it is recorded in the CommandLog with the events (docs/decisions/0002, 0010).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chronicle import identity
from chronicle.commands.outcome import continued, stream_of
from chronicle.domain import Aggregate
from chronicle.errors import IdempotencyKeyReused
from chronicle.eventstore import EventStore
from chronicle.eventstore.command_log import CommandLog
from chronicle.eventstore.items import MAX_TRANSACTION_ITEMS
from chronicle.eventstore.snapshots import Loaded

# A retried DecideAndAppend looks for its own earlier events among those stored since its command started, less
# this margin for the clocks of the two Lambdas (ValidateCommand stamps startedAt, AppendEvents the events).
CLOCK_SKEW = timedelta(seconds=5)


def recorded_outcome(store: EventStore, command: dict[str, Any], consistent: bool = True) -> dict[str, Any] | None:
    """The stored outcome of this actor's commandId (the same command again), IdempotencyKeyReused, or None."""
    recorded = CommandLog(store.client, store.command_table).find(command, consistent)
    if recorded is None:
        return None
    if not recorded.same_command:  # this actor's own earlier command: its details are the actor's own
        raise IdempotencyKeyReused(
            f"commandId {command['commandId']!r} was already used for a different command or payload.",
            [{"commandId": command["commandId"], "firstCommandType": recorded.command_type,
              "firstAggregateId": recorded.aggregate_id}])
    # PublishEvents re-publishes the same events: harmless for idempotent projections, and it heals a publish
    # that failed the first time.
    return {"response": recorded.response, "stream": stream_of(recorded.response), "replayed": True}


def earlier_attempt(store: EventStore, aggregate: Aggregate, command: dict[str, Any],
                    before: Loaded, attempt: int | None = None) -> dict[str, Any] | None:
    """The outcome this command stored in an earlier attempt, found among the events stored since it started.

    Free on the step's first attempt (its commandId was made for this execution: nothing can carry it yet), when
    nothing was stored since (the stream's head is older) or when the load already read them all; one backwards
    Query otherwise (a snapshot was taken inside the window: a busy stream)."""
    if command["idempotent"] or before.version == 0 or attempt == 0:
        return None
    since = (datetime.fromisoformat(command["startedAt"].replace("Z", "+00:00")) - CLOCK_SKEW).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    if (before.last_timestamp or "") < since:
        return None
    recent = before.recent
    if not recent or (recent[0]["timestamp"] >= since and recent[0]["eventSequence"] > 1):
        recent = store.read_back(command["aggregateId"], since)
    mine = [e for e in recent if e["timestamp"] >= since and e["metadata"].get("commandId") == command["commandId"]]
    return replayed(aggregate, command, mine) if mine else None


def earlier_create(store: EventStore, aggregate: Aggregate, command: dict[str, Any],
                   existing: dict[str, Any] | None = None, count: int | None = None) -> dict[str, Any] | None:
    """A create refused because the stream exists: this command's own earlier attempt, when the first event
    (returned by the refused write, else read) carries its commandId. `count`: how many events it appends."""
    if existing is None or existing.get("eventSequence") != 1:
        existing = next(iter(store.read(command["aggregateId"], 1, 1, upcast=False)), None)
    if existing is None or existing["metadata"].get("commandId") != command["commandId"]:
        return None
    mine = [existing] if count == 1 else [
        e for e in store.read(command["aggregateId"], 1, count or MAX_TRANSACTION_ITEMS, upcast=False)
        if e["metadata"].get("commandId") == command["commandId"]]
    return replayed(aggregate, command, mine)


def replayed(aggregate: Aggregate, command: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The outcome an earlier attempt answered, rebuilt from the events it stored."""
    events = sorted(events, key=lambda e: e["eventSequence"])
    answer = {
        "aggregateId": command["aggregateId"], "aggregateType": aggregate.type,
        "version": events[-1]["eventSequence"], "commandId": command["commandId"],
        "correlationId": events[0]["correlationId"],
        "events": [{"eventId": e["eventId"], "eventType": e["eventType"], "eventSequence": e["eventSequence"],
                    "version": e["version"]} for e in events],
    }
    if command.get("continues"):
        answer = continued(command["continues"]["response"], answer)
    return {"response": answer, "stream": stream_of(answer), "replayed": True}


def follow_up(command: dict[str, Any], outcome: dict[str, Any], command_type: str) -> dict[str, Any]:
    """A command a workflow runs after `command` on the same stream, answered together with it (see continued).

    Its commandId derives from the first one's, so a retried or replayed request finds its record (a client's
    commandId) or its events (a server-made one, within the request's `startedAt` window)."""
    return {"commandType": command_type, "aggregateType": command["aggregateType"],
            "aggregateId": outcome["response"]["aggregateId"], "aggregateIdGiven": True, "expectedVersion": None,
            "commandId": f"{outcome['response']['commandId']}/{command_type}", "idempotent": command["idempotent"],
            "correlationId": command["correlationId"], "actorId": command["actorId"], "data": {},
            **identity.session_of(command),
            "startedAt": command["startedAt"],
            "continues": {"response": outcome["response"], "stream": outcome["stream"]}}
