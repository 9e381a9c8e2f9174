"""The DynamoDB event store: append (never update), read by stream with a sequence range, snapshots,
and loading an aggregate as of a version or a time."""

from chronicle.eventstore.store import ANY, NO_STREAM, AppendConflict, EventStore

__all__ = ["ANY", "NO_STREAM", "AppendConflict", "EventStore"]
