"""The largest project the rules allow still fits every item it is stored in (DynamoDB: 400 KB an item).

Without a bound, three 200 KB configuration changes were accepted, then the read-model item passed the limit and
the projector dead-lettered every later event of the project (and a rebuild failed too).
"""

from __future__ import annotations

import json

from chronicle.domain import project
from chronicle.eventstore.items import MAX_ITEM_BYTES, dumps, item_size
from chronicle.projections.project import to_item
from chronicle.schemas import registry

WIDE = "\U0001F600"  # 4 bytes in UTF-8: the most a character of a JSON Schema maxLength can weigh


def max_length(command: str, field: str) -> int:
    return registry().command_validator(command).schema["properties"][field]["maxLength"]


def largest_project() -> dict:
    """Fold the longest name, description and owner, then configuration changes up to the limit, through decide()."""
    created = {"name": WIDE * max_length("CreateProject", "name"), "ownerId": WIDE * max_length("CreateProject", "ownerId"),
               "description": WIDE * max_length("CreateProject", "description"), "visibility": "internal"}
    [(kind, data)] = project.decide("CreateProject", created, project.initial_state())
    state = project.evolve(project.initial_state(), {"eventType": kind, "eventData": data, "eventSequence": 1,
                                                     "timestamp": "2026-11-30T10:00:00.000Z"})
    chunk = WIDE * 4000  # 16 KB a value
    for i in range(1000):
        try:
            [(kind, data)] = project.decide("ChangeProjectConfiguration", {"set": {f"key-{i}": chunk}}, state)
        except project.BusinessRuleViolation:
            break
        state = project.evolve(state, {"eventType": kind, "eventData": data, "eventSequence": state["version"] + 1,
                                       "timestamp": "2026-11-30T10:00:00.000Z"})
    # fill the last bytes: the largest configuration decide() accepts
    room = project.MAX_CONFIGURATION_BYTES - project.configuration_size(state["configuration"]) - len('"last":"",')
    [(kind, data)] = project.decide("ChangeProjectConfiguration", {"set": {"last": "x" * room}}, state)
    return project.evolve(state, {"eventType": kind, "eventData": data, "eventSequence": state["version"] + 1,
                                  "timestamp": "2026-11-30T10:00:00.000Z"})


def test_the_largest_legal_project_fits_its_read_model_item_and_its_snapshot():
    state = largest_project()
    assert project.configuration_size(state["configuration"]) == project.MAX_CONFIGURATION_BYTES
    read_model = item_size(to_item("p" * 128, state))
    snapshot = item_size({"aggregateId": {"S": "p" * 128}, "version": {"N": str(state["version"])},
                          "aggregateType": {"S": "Project"}, "state": {"S": dumps(state)},
                          "builtWith": {"S": "x" * 64}, "createdAt": {"S": "2026-11-30T10:00:00.000Z"}})
    assert read_model < MAX_ITEM_BYTES and snapshot < MAX_ITEM_BYTES, (read_model, snapshot)
    # and what GraphQL returns for it is JSON a client can read back
    assert json.loads(to_item("p", state)["configuration"]["S"]) == state["configuration"]
