"""What a command stores and answers: its event records, the documented success body, and where its events are."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from chronicle import identity
from chronicle.domain import Aggregate, NewEvent
from chronicle.errors import ConcurrencyConflict
from chronicle.eventstore.snapshots import Loaded
from chronicle.schemas import registry


def now_iso() -> str:
    """ISO-8601 UTC with millisecond precision; such strings sort as time does."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def records(aggregate: Aggregate, command: dict[str, Any], new_events: list[NewEvent],
            before: Loaded) -> list[dict[str, Any]]:
    """The decided events as event records (no sequence yet: the store numbers them)."""
    timestamp = now_iso()
    if before.last_timestamp and before.last_timestamp > timestamp:
        timestamp = before.last_timestamp  # keep a stream's timestamps non-decreasing whatever the clocks say
    return [{
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "eventData": data,
        "correlationId": command["correlationId"],
        "timestamp": timestamp,
        "version": str(registry().current_version(event_type)),
        "metadata": {"aggregateType": aggregate.type, "commandId": command["commandId"],
                     "commandType": command["commandType"], "actorId": command["actorId"],
                     **identity.session_of(command),
                     "causationId": command["commandId"], "correlationId": command["correlationId"]},
    } for event_type, data in new_events]


def response(aggregate: Aggregate, command: dict[str, Any], base: int, stored: list[dict[str, Any]]
             ) -> dict[str, Any]:
    """The documented success body of `stored` appended after version `base`."""
    answer = {
        "aggregateId": command["aggregateId"], "aggregateType": aggregate.type, "version": base + len(stored),
        "commandId": command["commandId"], "correlationId": command["correlationId"],
        "events": [{"eventId": r["eventId"], "eventType": r["eventType"], "eventSequence": base + i,
                    "version": r["version"]} for i, r in enumerate(stored, start=1)],
    }
    if command.get("continues"):  # a follow-up step of one request: one answer for all its events
        answer = continued(command["continues"]["response"], answer)
    return answer


def continued(first: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """The answer of a request whose workflow appended twice (UploadTemplate: TemplateUploaded, then the
    TemplateValidated of its validation step): the client's commandId, every event, the last version."""
    return {**then, "commandId": first["commandId"], "events": first["events"] + then["events"]}


def stream_of(answer: dict[str, Any]) -> dict[str, Any]:
    """Where a command's events are: enough for PublishEvents to read them back."""
    sequences = [e["eventSequence"] for e in answer["events"]]
    return {"aggregateId": answer["aggregateId"], "fromSequence": min(sequences, default=0),
            "toSequence": max(sequences, default=0)}


def conflict(aggregate_id: str, expected: int, actual: int) -> ConcurrencyConflict:
    return ConcurrencyConflict(f"Stream {aggregate_id!r} is at version {actual}, not {expected}.",
                               [{"reason": "ExpectedVersionMismatch", "aggregateId": aggregate_id,
                                 "expectedVersion": expected, "actualVersion": actual}])
