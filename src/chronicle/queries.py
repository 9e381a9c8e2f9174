"""The query side: one function per GraphQL field, returning JSON-ready values (AWSJSON as JSON strings).

The same functions answer AppSync (functions/graphql_resolver) and the local /graphql endpoint.

Reads obey SPEC section 7. The caller runs a request inside ``acting_as(actor_id)`` (AppSync: the authenticated
identity; locally: the X-Actor-Id header). A private project is visible to the actors who may change it (its
creator, its owner, `write` holders) and `read` holders; a public one to anyone; an internal one to any
authenticated actor. What an actor may not see reads as absent (null, or left out of a list), so it does not even
learn that it exists. A user's email, and permissionMatrix, are for admins and the user themself. The viewer's
grants come from its own User stream (the event store), like the command side's.
"""

from __future__ import annotations

import base64
import contextlib
import json
from contextvars import ContextVar
from typing import Any
from collections.abc import Callable, Iterator

from chronicle import aws, policy
from chronicle.domain import AGGREGATES
from chronicle.domain import project as project_domain
from chronicle.errors import ValidationError
from chronicle.eventstore.items import dumps
from chronicle.projections import project as project_projection
from chronicle.projections import user as user_projection
from datetime import UTC

ANONYMOUS = "anonymous"
_ACTOR: ContextVar[str] = ContextVar("chronicle_actor", default=ANONYMOUS)
_VIEWER: ContextVar[policy.Actor | None] = ContextVar("chronicle_viewer", default=None)


@contextlib.contextmanager
def acting_as(actor_id: str | None) -> Iterator[None]:
    """Run queries as `actor_id` (None or empty: anonymous)."""
    tokens = (_ACTOR.set(actor_id or ANONYMOUS), _VIEWER.set(None))
    try:
        yield
    finally:
        _ACTOR.reset(tokens[0])
        _VIEWER.reset(tokens[1])


def viewer() -> policy.Actor:
    """The acting actor with its grants, loaded once per request from its User stream (consistent reads)."""
    actor = _VIEWER.get()
    if actor is None or actor.id != _ACTOR.get():
        from chronicle.commands import load_actor

        actor = load_actor(_ACTOR.get(), aws.aggregate_loader())
        _VIEWER.set(actor)
    return actor


def may_see_project(project_id: str, state: dict[str, Any]) -> bool:
    me = viewer()
    visibility = state.get("visibility", "private")
    if visibility == "public" or (visibility == "internal" and me.id != ANONYMOUS):
        return True
    return me.id in project_domain.changers(state) or policy.may(me, "read", f"project:{project_id}")


def may_see_email(user_id: str) -> bool:
    me = viewer()
    return me.id == user_id or policy.may(me, "admin", f"user:{user_id}")

MAX_PAGE = 100


def _project(project_id: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": project_id, "name": state["name"], "description": state.get("description"),
        "ownerId": state["ownerId"], "visibility": state.get("visibility", "private"), "version": state["version"],
        "services": [{"name": name, "templateId": s["templateId"], "parameters": dumps(s.get("parameters", {})),
                      "dependsOn": s.get("dependsOn", [])} for name, s in sorted(state["services"].items())],
        "configuration": dumps(state["configuration"]),
        "createdAt": state.get("createdAt"), "updatedAt": state.get("updatedAt"),
    }


def project(id: str) -> dict[str, Any] | None:
    item = aws.client("dynamodb").get_item(TableName=aws.env("PROJECT_TABLE"), Key={"id": {"S": id}}).get("Item")
    if not item:
        return None
    state = project_projection.from_item(item)
    return _project(id, state) if may_see_project(id, state) else None


def _token(key: dict | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def _untoken(token: str | None) -> dict | None:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise ValidationError("nextToken is not a token this API returned.", [{"path": "$.nextToken"}]) from None


def projects(ownerId: str | None = None, limit: int | None = None, nextToken: str | None = None) -> dict[str, Any]:
    limit = max(1, min(limit or 20, MAX_PAGE))
    request: dict[str, Any] = {"TableName": aws.env("PROJECT_TABLE"), "Limit": limit}
    if start := _untoken(nextToken):
        request["ExclusiveStartKey"] = start
    if ownerId is not None:
        request.update(IndexName="byOwner", KeyConditionExpression="ownerId = :o",
                       ExpressionAttributeValues={":o": {"S": ownerId}}, ScanIndexForward=False)
        page = aws.client("dynamodb").query(**request)
    else:
        page = aws.client("dynamodb").scan(**request)
    # Projects the actor may not see are left out, so a page can hold fewer than `limit` items: keep following
    # nextToken until it is null.
    states = [(i["id"]["S"], project_projection.from_item(i)) for i in page["Items"]]
    items = [_project(pid, state) for pid, state in states if may_see_project(pid, state)]
    return {"items": items, "nextToken": _token(page.get("LastEvaluatedKey"))}


def projectAt(id: str, version: int | None = None, asOf: str | None = None) -> dict[str, Any] | None:
    if version is not None and version < 1:
        raise ValidationError("version counts from 1.", [{"path": "$.version"}])
    loaded = aws.aggregate_loader().load(AGGREGATES["Project"], id, as_of_version=version, as_of_time=_utc(asOf))
    return _project(id, loaded.state) if loaded.version and may_see_project(id, loaded.state) else None


def _utc(value: str | None) -> str | None:
    """An AWSDateTime as the store's timestamp format (UTC, milliseconds, Z) so that strings compare as times."""
    if value is None:
        return None
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("asOf is not an ISO-8601 date-time.", [{"path": "$.asOf"}]) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def history(aggregateId: str, fromVersion: int | None = None, toVersion: int | None = None) -> list[dict[str, Any]]:
    """The stream's events, if the actor may see the stream (else empty). A User event's personal fields are opened
    for those allowed to see them; once the user's key is erased they are null and the data says `erased: true`."""
    events = aws.event_store().read(aggregateId, fromVersion or 1, toVersion)
    if not events:
        return []
    kind = events[0]["metadata"].get("aggregateType")
    opener = None
    if kind == "Project":
        state = aws.aggregate_loader().load(AGGREGATES["Project"], aggregateId).state
        if not may_see_project(aggregateId, state):
            return []
    elif kind == "User":
        opener = _user_event_opener(aggregateId)
        if opener is None:
            return []
    return [{"eventId": e["eventId"], "eventType": e["eventType"], "eventSequence": e["eventSequence"],
             "timestamp": e["timestamp"], "correlationId": e["correlationId"], "version": e["version"],
             "storedVersion": e.get("storedVersion", e["version"]), "actorId": e["metadata"].get("actorId"),
             "data": dumps(opener(e) if opener else e["eventData"])} for e in events]


def _user_event_opener(user_id: str) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """How the viewer sees a User stream's events: None when it may not see them at all."""
    from chronicle.users import open_event_data

    me = viewer()
    if me.id != user_id and not policy.may(me, "read", f"user:{user_id}"):
        return None
    vault = aws.vault()
    key = vault.data_key(user_id)
    show_email = may_see_email(user_id)

    def opened(event: dict[str, Any]) -> dict[str, Any]:
        data = open_event_data(vault, user_id, event["eventType"], event["eventData"], key)
        if not show_email and "email" in data:
            data = {**data, "email": None}
        return data

    return opened


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


def publishProjectChanged(id: str, version: int, eventType: str) -> dict[str, Any]:
    return {"id": id, "version": version, "eventType": eventType}


def publishUserChanged(id: str, version: int, eventType: str) -> dict[str, Any]:
    return {"id": id, "version": version, "eventType": eventType}


RESOLVERS: dict[str, Callable[..., Any]] = {
    "project": project, "projects": projects, "projectAt": projectAt, "history": history,
    "user": user, "permissionMatrix": permissionMatrix,
    "publishProjectChanged": publishProjectChanged, "publishUserChanged": publishUserChanged,
}


def resolve(field_name: str, arguments: dict[str, Any]) -> Any:
    try:
        resolver = RESOLVERS[field_name]
    except KeyError:
        raise ValidationError(f"No resolver for field {field_name!r}.") from None
    return resolver(**arguments)
