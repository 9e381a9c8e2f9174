"""The user read model (UserReadModelTable): one item per user, the User aggregate's folded state.

It serves `user(id)` and `permissionMatrix`. Personal fields stay sealed here, as in the events: the resolver
opens them for those allowed to see them, and once the user's data key is erased nothing can (the erasure event
also sets them to null, and a rebuild folds the same). Projected with chronicle.projections.folded (idempotent,
gap-filling, conditional on the version read).
"""

from __future__ import annotations

import json
from typing import Any

from chronicle.domain import user as user_domain
from chronicle.eventstore import EventStore
from chronicle.projections import folded


def to_item(user_id: str, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    item: dict[str, dict[str, Any]] = {
        "id": {"S": user_id}, "version": {"N": str(state["version"])}, "erased": {"BOOL": bool(state["erased"])},
        "permissions": {"S": json.dumps(state["permissions"])}, "createdAt": {"S": state["createdAt"] or ""},
        "updatedAt": {"S": state["updatedAt"] or ""}}
    for name in ("email", "displayName", "registeredBy"):
        if state.get(name) is not None:
            item[name] = {"S": state[name]}
    return item


def from_item(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    state = user_domain.initial_state()
    state.update(exists=True, version=int(item["version"]["N"]), erased=item["erased"]["BOOL"],
                 permissions=json.loads(item["permissions"]["S"]), createdAt=item["createdAt"]["S"] or None,
                 updatedAt=item["updatedAt"]["S"] or None,
                 **{name: item[name]["S"] for name in ("email", "displayName", "registeredBy") if name in item})
    return state


MODEL = folded.FoldedModel("users", user_domain.AGGREGATE, "UserRegistered", to_item, from_item)


def apply(event: dict[str, Any], store: EventStore, table: str) -> folded.Applied:
    return folded.apply(event, store, table, MODEL)
