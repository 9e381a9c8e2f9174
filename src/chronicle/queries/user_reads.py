"""User reads: a profile (``user``, email only for admins and the user themself) and grants
(``permissionMatrix``)."""

from __future__ import annotations

from typing import Any

from chronicle import aws, policy
from chronicle.projections import user as user_projection
from chronicle.queries.visibility import ANONYMOUS, may_see_email, viewer


def user(id: str) -> dict[str, Any] | None:
    """A user's profile (any authenticated actor); the email only for admins and the user themself."""
    if viewer().id == ANONYMOUS:
        return None
    item = aws.client("dynamodb").get_item(TableName=aws.env("USER_TABLE"), Key={"id": {"S": id}}).get("Item")
    if not item:
        return None
    state = user_projection.from_item(item)
    fields = ("email", "displayName") if may_see_email(id) else ("displayName",)
    opened = aws.vault().open_fields(id, state, fields) if not state["erased"] else state
    return {"id": id, "email": opened["email"] if "email" in fields else None, "displayName": opened["displayName"],
            "version": state["version"], "erased": state["erased"] or _key_gone(opened, state),
            "createdAt": state["createdAt"], "updatedAt": state["updatedAt"]}


def _key_gone(opened: dict[str, Any], state: dict[str, Any]) -> bool:
    """Erased already, though the read model has not seen the erasure event yet: the key is what counts."""
    return state.get("displayName") is not None and opened.get("displayName") is None


def permissionMatrix(userId: str | None = None) -> list[dict[str, str]]:
    """One user's grants (that user or an admin on user:<id>); without userId, every user's for an admin on `*`,
    else the caller's own. Ordered by userId, then resource, then permission."""
    me = viewer()
    if userId is None and policy.is_admin(me):
        items = _scan(aws.env("USER_TABLE"))
    else:
        wanted = userId or me.id
        if wanted != me.id and not policy.may(me, "admin", f"user:{wanted}"):
            return []
        item = aws.client("dynamodb").get_item(TableName=aws.env("USER_TABLE"), Key={"id": {"S": wanted}}).get("Item")
        items = [item] if item else []
    entries = [{"userId": i["id"]["S"], **entry} for i in items for entry in user_projection.from_item(i)["permissions"]]
    return sorted(entries, key=lambda e: (e["userId"], e["resource"], e["permission"]))


def _scan(table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in aws.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    return items
