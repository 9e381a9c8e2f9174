"""Step 3, PublishEvents: put a command's stored events on the EventBridge bus, read back from the store as they
were written (at least once: the projections are idempotent)."""

from __future__ import annotations

import json
from typing import Any

from chronicle.eventstore import EventStore

MAX_DETAIL_BYTES = 200 * 1024  # EventBridge entries are at most 256 KB; bigger events are sent without data


class PublishFailed(Exception):
    """EventBridge refused some entries; the state machine retries the step."""


def event_bridge_entries(events: list[dict[str, Any]], bus: str) -> list[dict[str, Any]]:
    entries = []
    for event in events:
        detail = json.dumps(event)
        if len(detail.encode()) > MAX_DETAIL_BYTES:
            # Too big for EventBridge: consumers fetch the data from the store by (aggregateId, eventSequence).
            detail = json.dumps({**event, "eventData": None, "eventDataOmitted": True})
        entries.append({"Source": f"chronicle.{event['metadata']['aggregateType']}",
                        "DetailType": event["eventType"], "Detail": detail, "EventBusName": bus})
    return entries


def publish(outcome: dict[str, Any], store: EventStore, events_client: Any, bus: str) -> dict[str, Any]:
    """Put the command's stored events on the bus, read back from the store as they were written."""
    stream = outcome["stream"]
    events = store.read(stream["aggregateId"], stream["fromSequence"], stream["toSequence"], upcast=False) \
        if stream["fromSequence"] else []
    entries = event_bridge_entries(events, bus)
    for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
        result = events_client.put_events(Entries=entries[start:start + 10])
        if result.get("FailedEntryCount"):
            failed = [e for e in result["Entries"] if e.get("ErrorCode")]
            raise PublishFailed(f"{len(failed)} events were not accepted: {failed}")
    return {"published": len(entries)}
