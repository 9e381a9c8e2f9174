"""The Project aggregate (SPEC section 3): a team's project, composed of services.

State is plain JSON-ready data so that it can be snapshotted as is.
"""

from __future__ import annotations

import json
from typing import Any

from chronicle.domain import Aggregate, NewEvent, State
from chronicle.errors import BusinessRuleViolation


# What a project's configuration may hold, as compact UTF-8 JSON (how the read model and snapshots store it). With
# the longest name and description it keeps the project read-model item and the snapshot item well under DynamoDB's
# 400 KB (tests/unit/test_project_limits.py folds the largest legal project and measures both items).
MAX_CONFIGURATION_BYTES = 128 * 1024


def configuration_size(configuration: dict[str, Any]) -> int:
    return len(json.dumps(configuration, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode())


def initial_state() -> State:
    return {"exists": False, "version": 0, "name": None, "description": None, "ownerId": None,
            "visibility": "private", "services": {}, "configuration": {}, "createdAt": None, "updatedAt": None}


def decide(command_type: str, data: dict[str, Any], state: State) -> list[NewEvent]:
    if command_type == "CreateProject":
        created = {"name": data["name"], "ownerId": data["ownerId"],
                   "visibility": data.get("visibility", "private")}
        if data.get("description") is not None:
            created["description"] = data["description"]
        return [("ProjectCreated", created)]

    if command_type == "ChangeProjectConfiguration":
        to_set = data.get("set", {})
        to_unset = sorted(set(data.get("unset", [])))
        if not to_set and not to_unset:
            raise BusinessRuleViolation("A configuration change must set or unset at least one key.",
                                        [{"rule": "ConfigurationChangeNotEmpty", "path": "$.data"}])
        both = sorted(set(to_set) & set(to_unset))
        if both:
            raise BusinessRuleViolation("A key cannot be set and unset in the same change.",
                                        [{"rule": "ConfigurationKeysDisjoint", "keys": both}])
        after = {key: value for key, value in {**state["configuration"], **to_set}.items() if key not in to_unset}
        size = configuration_size(after)
        if size > MAX_CONFIGURATION_BYTES:
            raise BusinessRuleViolation(
                f"The configuration would be {size} bytes; a project's configuration holds at most "
                f"{MAX_CONFIGURATION_BYTES} bytes (as compact JSON).",
                [{"rule": "ConfigurationTooLarge", "bytes": size, "limit": MAX_CONFIGURATION_BYTES}])
        return [("ProjectConfigurationChanged", {"set": to_set, "unset": to_unset})]

    raise ValueError(f"Project does not handle {command_type}")  # routing bug, not user input


def evolve(state: State, event: dict[str, Any]) -> State:
    data = event["eventData"]
    kind = event["eventType"]
    state = {**state, "version": event["eventSequence"], "updatedAt": event["timestamp"]}
    if kind == "ProjectCreated":
        state.update(exists=True, name=data["name"], description=data.get("description"),
                     ownerId=data["ownerId"], visibility=data["visibility"], createdAt=event["timestamp"])
    elif kind == "ProjectConfigurationChanged":
        configuration = {**state["configuration"], **data["set"]}
        for key in data["unset"]:
            configuration.pop(key, None)
        state["configuration"] = configuration
    elif kind == "ServiceAdded":
        state["services"] = {**state["services"], data["serviceName"]: {
            "templateId": data["templateId"], "parameters": data.get("parameters", {}),
            "dependsOn": data.get("dependsOn", [])}}
    elif kind == "ServiceRemoved":
        state["services"] = {k: v for k, v in state["services"].items() if k != data["serviceName"]}
    return state


AGGREGATE = Aggregate(
    type="Project",
    create_commands=frozenset({"CreateProject"}),
    update_commands=frozenset({"ChangeProjectConfiguration"}),
    initial_state=initial_state,
    decide=decide,
    evolve=evolve,
    state_version=1,
    snapshot_every=50,
    event_types=frozenset({"ProjectCreated", "ProjectConfigurationChanged", "ServiceAdded", "ServiceRemoved"}),
)
