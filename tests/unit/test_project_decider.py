"""The Project decider: pure functions, no AWS."""

from __future__ import annotations

import pytest

from chronicle.domain import aggregate_for_command, all_commands
from chronicle.domain.project import AGGREGATE, decide, evolve, initial_state
from chronicle.errors import BusinessRuleViolation, UnknownCommand


def stored(event_type, data, sequence, timestamp="2026-01-01T00:00:00.000Z"):
    return {"eventType": event_type, "eventData": data, "eventSequence": sequence, "timestamp": timestamp}


def test_create_project_decides_project_created_with_default_visibility():
    assert decide("CreateProject", {"name": "Payments", "ownerId": "alice"}, initial_state()) == [
        ("ProjectCreated", {"name": "Payments", "ownerId": "alice", "visibility": "private"})]


def test_create_project_keeps_description_and_visibility():
    [(kind, data)] = decide("CreateProject", {"name": "P", "ownerId": "o", "description": "d",
                                              "visibility": "public"}, initial_state())
    assert kind == "ProjectCreated" and data["description"] == "d" and data["visibility"] == "public"


def test_evolve_created_then_configuration_changes():
    state = AGGREGATE.fold([
        stored("ProjectCreated", {"name": "P", "ownerId": "o", "visibility": "private"}, 1),
        stored("ProjectConfigurationChanged", {"set": {"a": 1, "b": {"x": True}}, "unset": []}, 2),
        stored("ProjectConfigurationChanged", {"set": {"c": "z"}, "unset": ["a", "missing"]}, 3,
               "2026-01-02T00:00:00.000Z"),
    ])
    assert state["exists"] and state["version"] == 3 and state["name"] == "P"
    assert state["configuration"] == {"b": {"x": True}, "c": "z"}
    assert state["createdAt"] == "2026-01-01T00:00:00.000Z" and state["updatedAt"] == "2026-01-02T00:00:00.000Z"


def test_configuration_change_must_not_be_empty():
    with pytest.raises(BusinessRuleViolation) as caught:
        decide("ChangeProjectConfiguration", {"set": {}, "unset": []}, initial_state())
    assert caught.value.details[0]["rule"] == "ConfigurationChangeNotEmpty"


def test_configuration_change_cannot_set_and_unset_one_key():
    with pytest.raises(BusinessRuleViolation):
        decide("ChangeProjectConfiguration", {"set": {"a": 1}, "unset": ["a"]}, initial_state())


def test_configuration_change_sorts_and_dedups_unset():
    [(_, data)] = decide("ChangeProjectConfiguration", {"unset": ["b", "a", "b"]}, initial_state())
    assert data == {"set": {}, "unset": ["a", "b"]}


def test_evolve_does_not_mutate_its_input():
    state = initial_state()
    evolve(state, stored("ProjectCreated", {"name": "P", "ownerId": "o", "visibility": "private"}, 1))
    assert state == initial_state()


def test_command_routing():
    assert aggregate_for_command("CreateProject") is AGGREGATE
    assert {"CreateProject", "ChangeProjectConfiguration"} <= all_commands()
    with pytest.raises(UnknownCommand):
        aggregate_for_command("LaunchRockets")
