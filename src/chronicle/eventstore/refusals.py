"""What an append or a read of the event store can refuse with (chronicle.eventstore.store re-exports them)."""

from __future__ import annotations

from typing import Any

from chronicle.errors import ChronicleError


class AppendConflict(Exception):
    """Another writer got there first: the stream is not at the expected version."""

    def __init__(self, aggregate_id: str, expected: Any, existing: dict[str, Any] | None = None):
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
