"""The project read model (ProjectReadModelTable): one item per project, the Project aggregate's state
folded by its own evolve(), stored with the last applied eventSequence as `version`; idempotent, ordered and
gap-filling as chronicle.projections.folded describes.
"""

from __future__ import annotations

import json
from typing import Any

from chronicle.domain import project as project_domain
from chronicle.eventstore import EventStore
from chronicle.eventstore.items import dumps
from chronicle.projections import folded
from chronicle.projections.folded import Applied, FoldedModel

__all__ = ["Applied", "MODEL", "apply", "from_item", "to_item"]


def to_item(project_id: str, state: dict[str, Any]) -> dict[str, dict[str, str]]:
    item = {"id": {"S": project_id}, "version": {"N": str(state["version"])},
            "name": {"S": state["name"]}, "ownerId": {"S": state["ownerId"]},
            "visibility": {"S": state["visibility"]},
            "services": {"S": dumps(state["services"])}, "configuration": {"S": dumps(state["configuration"])},
            "createdAt": {"S": state["createdAt"]}, "updatedAt": {"S": state["updatedAt"]}}
    if state.get("description") is not None:
        item["description"] = {"S": state["description"]}
    if state.get("createdBy") is not None:  # who may see a private project (docs/reference/authorization.md)
        item["createdBy"] = {"S": state["createdBy"]}
    return item


def from_item(item: dict[str, dict[str, str]]) -> dict[str, Any]:
    state = project_domain.initial_state()
    state.update(exists=True, version=int(item["version"]["N"]), name=item["name"]["S"],
                 ownerId=item["ownerId"]["S"], visibility=item.get("visibility", {}).get("S", "private"),
                 description=item.get("description", {}).get("S"),
                 services=json.loads(item["services"]["S"]), configuration=json.loads(item["configuration"]["S"]),
                 createdAt=item["createdAt"]["S"], updatedAt=item["updatedAt"]["S"],
                 createdBy=item.get("createdBy", {}).get("S"))
    return state


MODEL = FoldedModel(name="projects", aggregate=project_domain.AGGREGATE, created_event="ProjectCreated",
                    to_item=lambda project_id, state: to_item(project_id, state), from_item=lambda item: from_item(item))


def apply(event: dict[str, Any], store: EventStore, table: str, attempts: int = 5) -> Applied:
    """Apply one stored event (as published) to the read model (chronicle.projections.folded)."""
    return folded.apply(event, store, table, MODEL, attempts)
