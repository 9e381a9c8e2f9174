"""The publish safety net: every event the event table's DynamoDB stream shows goes to the bus.

Why: a command's workflow is a synchronous Express execution, which runs at most once. If it dies between its
append and its publish (a crash, a timeout, a publish step that fails in a way nothing catches), the event is
stored and never published, and nothing in the workflow will ever look at it again. The table's stream sees every
stored event exactly once per shard, in order per stream, for 24 h, so a Lambda on it closes that hole.

It publishes every inserted event, not only the ones the workflow missed: the stream cannot tell which those
are, and asking (a marker written by PublishEvents, read here) would cost a write per command to save a PutEvents
entry. So consumers see each event at least once, usually twice, with the same ``eventId`` and
``(aggregateId, eventSequence)`` to deduplicate by; Chronicle's own projections are idempotent on the sequence
(docs/eventstore.md).

The entries are those PublishEvents puts (``chronicle.commands.event_bridge_entries``: same Source, DetailType and
Detail), built from the stream's NewImage with the event store's own item mapping.
"""

from __future__ import annotations

from typing import Any

from chronicle.commands import event_bridge_entries
from chronicle.eventstore.items import from_item


def stored_events(records: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(stream sequence number, event record) for every INSERT of an event item (other items the table may hold,
    such as reservations, are not events)."""
    out = []
    for record in records:
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        if record.get("eventName") != "INSERT" or "eventId" not in image or "eventSequence" not in image:
            continue
        out.append((record["dynamodb"]["SequenceNumber"], from_item(image)))
    return out


def publish_stream_batch(event: dict[str, Any], events_client: Any, bus: str) -> dict[str, Any]:
    """Put the batch's events on the bus; the records whose entries the bus refused are reported as
    ``batchItemFailures`` (Lambda then retries the batch from the first of them: order per shard is kept)."""
    pairs = stored_events(event.get("Records") or [])
    entries = event_bridge_entries([e for _, e in pairs], bus)
    failures: list[dict[str, str]] = []
    for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
        result = events_client.put_events(Entries=entries[start:start + 10])
        if result.get("FailedEntryCount"):
            for offset, outcome in enumerate(result["Entries"]):
                if outcome.get("ErrorCode"):
                    failures.append({"itemIdentifier": pairs[start + offset][0]})
    return {"batchItemFailures": failures, "published": len(entries) - len(failures)}
