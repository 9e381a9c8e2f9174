"""The schema registry: validation with JSON paths, compiled-once validators, upcasting to the current version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chronicle.schemas import SchemaRegistry, registry
from chronicle.schemas.upcasters import UPCASTERS

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"


def stored(event_type: str, version: str, data: dict) -> dict:
    return {"aggregateId": "p-1", "eventSequence": 1, "eventId": "e-1", "eventType": event_type,
            "eventData": data, "version": version, "timestamp": "2026-01-01T00:00:00.000Z",
            "correlationId": "c-1", "metadata": {"aggregateType": "Project"}}


def test_validation_errors_list_json_paths():
    schemas = SchemaRegistry(SCHEMAS)
    errors = schemas.errors(schemas.command_validator("CreateProject"),
                            {"name": "", "ownerId": 7, "extra": True}, ("data",))
    paths = [e["path"] for e in errors]
    assert paths == sorted(paths)
    assert {"$.data.name", "$.data.ownerId", "$.data"} <= set(paths)
    assert all(e["message"] for e in errors)
    nested = schemas.errors(schemas.command_validator("ChangeProjectConfiguration"), {"unset": ["a", 3]}, ("data",))
    assert [e["path"] for e in nested] == ["$.data.unset[1]"]
    assert schemas.event_errors("ProjectCreated", 2, {"name": "x", "ownerId": "y"}) == [
        {"path": "$.eventData", "message": "'visibility' is a required property"}]


def test_validators_are_compiled_once():
    assert registry() is registry()
    assert registry().event_validator("ProjectCreated", 2) is registry().event_validator("ProjectCreated", 2)
    assert registry().command_validator("CreateProject") is registry().command_validator("CreateProject")
    assert registry().envelope_validator() is registry().envelope_validator()


def test_current_version_is_the_highest_file():
    assert registry().current_version("ProjectCreated") == 2
    assert registry().current_version("ProjectConfigurationChanged") == 1
    with pytest.raises(KeyError):
        registry().current_version("Nope")


def test_project_created_v1_is_read_as_v2_private():
    event = stored("ProjectCreated", "1", {"name": "Docs", "ownerId": "bob"})
    upcast = registry().upcast(event)
    assert upcast["version"] == "2" and upcast["storedVersion"] == "1"
    assert upcast["eventData"] == {"name": "Docs", "ownerId": "bob", "visibility": "private"}
    assert event["eventData"] == {"name": "Docs", "ownerId": "bob"} and event["version"] == "1"  # untouched


def test_a_current_event_is_returned_as_is():
    event = stored("ProjectCreated", "2", {"name": "Docs", "ownerId": "bob", "visibility": "public"})
    assert registry().upcast(event) is event


@pytest.mark.parametrize("sample", sorted((SCHEMAS / "events/ProjectCreated/samples/v1").glob("*.json")),
                         ids=lambda p: p.name)
def test_v1_samples_validate_as_v1_and_after_upcast_as_v2(sample):
    data = json.loads(sample.read_text())
    assert registry().event_errors("ProjectCreated", 1, data) == []
    upcast = registry().upcast(stored("ProjectCreated", "1", data))
    assert registry().event_errors("ProjectCreated", 2, upcast["eventData"]) == []


def test_a_missing_upcaster_is_a_clear_error(monkeypatch):
    monkeypatch.delitem(UPCASTERS, ("ProjectCreated", 1))
    with pytest.raises(LookupError, match="no upcaster for ProjectCreated v1 -> v2"):
        registry().upcast(stored("ProjectCreated", "1", {"name": "Docs", "ownerId": "bob"}))
