"""Helpers for the event-store tests: event records the schemas accept, and the moto fixture with atomic writes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from chronicle.commands import now_iso
from chronicle.local import moto_atomic


@pytest.fixture
def atomic_aws(aws):
    """The `aws` moto account, with moto's DynamoDB operations serialized (see chronicle.local.moto_atomic):
    without it, moto lets two conditional writers win under threads."""
    moto_atomic.install()
    try:
        yield aws
    finally:
        moto_atomic.uninstall()


def record(event_type: str, data: dict[str, Any], timestamp: str | None = None, version: str | None = None,
           command_id: str | None = None) -> dict[str, Any]:
    """A record as decide_and_append builds it (everything but aggregateId and eventSequence)."""
    command_id = command_id or str(uuid.uuid4())
    correlation = str(uuid.uuid4())
    return {"eventId": str(uuid.uuid4()), "eventType": event_type, "eventData": data, "correlationId": correlation,
            "timestamp": timestamp or now_iso(),
            "version": version or ("2" if event_type == "ProjectCreated" else "1"),
            "metadata": {"aggregateType": "Project", "commandId": command_id, "commandType": "test",
                         "actorId": "tester", "causationId": command_id, "correlationId": correlation}}


def created(name: str = "P", timestamp: str | None = None) -> dict[str, Any]:
    return record("ProjectCreated", {"name": name, "ownerId": "owner-1", "visibility": "private"}, timestamp)


def changed(set_: dict[str, Any] | None = None, unset: list[str] | None = None,
            timestamp: str | None = None) -> dict[str, Any]:
    return record("ProjectConfigurationChanged", {"set": set_ or {}, "unset": sorted(set(unset or []))}, timestamp)


class RequestCounter:
    """Counts the DynamoDB requests a boto3 client sends (botocore's before-call event), by operation."""

    def __init__(self, client):
        self.client = client
        self.calls: list[str] = []
        client.meta.events.register("before-call.dynamodb", self._count, unique_id="chronicle-request-counter")

    def _count(self, model, **_):
        self.calls.append(model.name)

    def reset(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls

    def close(self) -> None:
        self.client.meta.events.unregister("before-call.dynamodb", unique_id="chronicle-request-counter")
