"""The template read model (TemplateReadModelTable): one item per template, the Template aggregate's state folded
by its own evolve() (chronicle.projections.folded: idempotent, ordered, gap-filling).

The catalog order is the GSI `byName`: every item has `catalog = "templates"` and `sortKey = <name>#<id>`, so the
catalog pages by name (Unicode code point order), then id, without a Scan.
"""

from __future__ import annotations

import json
from typing import Any

from chronicle.domain import template as template_domain
from chronicle.eventstore import EventStore
from chronicle.eventstore.items import dumps
from chronicle.projections import folded
from chronicle.projections.folded import Applied, FoldedModel

CATALOG = "templates"
_JSON = ("parameters", "validation")
_TEXT = ("name", "description", "bodyKey", "bodySha256", "uploadedBy", "createdAt", "updatedAt")


def to_item(template_id: str, state: dict[str, Any]) -> dict[str, dict[str, str]]:
    item: dict[str, dict[str, str]] = {
        "id": {"S": template_id}, "version": {"N": str(state["version"])},
        "bodySize": {"N": str(state["bodySize"])}, "parametersVersion": {"N": str(state["parametersVersion"])},
        "catalog": {"S": CATALOG}, "sortKey": {"S": f"{state['name']}#{template_id}"}}
    item.update({key: {"S": dumps(state[key])} for key in _JSON})
    item.update({key: {"S": state[key]} for key in _TEXT if state.get(key) is not None})
    return item


def from_item(item: dict[str, dict[str, str]]) -> dict[str, Any]:
    state = template_domain.initial_state()
    state.update({key: json.loads(item[key]["S"]) for key in _JSON})
    state.update({key: item[key]["S"] for key in _TEXT if key in item})
    state.update(exists=True, version=int(item["version"]["N"]), bodySize=int(item["bodySize"]["N"]),
                 parametersVersion=int(item["parametersVersion"]["N"]))
    return state


MODEL = FoldedModel(name="templates", aggregate=template_domain.AGGREGATE, created_event="TemplateUploaded",
                    to_item=to_item, from_item=from_item)


def apply(event: dict[str, Any], store: EventStore, table: str, attempts: int = 5) -> Applied:
    return folded.apply(event, store, table, MODEL, attempts)
