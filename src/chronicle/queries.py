"""The query side: one function per GraphQL field, returning JSON-ready values (AWSJSON as JSON strings).

The same functions answer AppSync (functions/graphql_resolver) and the local /graphql endpoint.

Reads obey docs/reference/authorization.md. The caller runs a request inside ``acting_as(actor_id)`` (AppSync: the authenticated
identity; locally: the X-Actor-Id header). A private project is visible to the actors who may change it (its
creator, its owner, `write` holders) and `read` holders; a public one to anyone; an internal one to any
authenticated actor. What an actor may not see reads as absent (null, or left out of a list), so it does not even
learn that it exists. A user's email, and permissionMatrix, are for admins and the user themself. The viewer's
grants come from its own User stream (the event store), like the command side's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import heapq
import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from collections.abc import Callable, Iterator

from botocore.exceptions import ClientError

from chronicle import aws, history_page, policy
from chronicle.domain import AGGREGATES
from chronicle.domain import project as project_domain
from chronicle.errors import ChronicleError, InternalError, ValidationError
from chronicle.eventstore.items import dumps
from chronicle.projections import project as project_projection
from chronicle.projections import template as template_projection
from chronicle.projections import usage as usage_projection
from chronicle.projections import user as user_projection

log = logging.getLogger(__name__)

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
        actor = policy.load_actor(_ACTOR.get(), aws.aggregate_loader())
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
MAX_ID_BYTES = 1024  # DynamoDB keys hold up to 2048 bytes; no id Chronicle makes comes near this
# Arguments that name an item: an empty one would reach DynamoDB as an empty key (its ValidationException).
_ID_ARGUMENTS = ("id", "aggregateId", "ownerId", "projectId", "templateId", "userId")


def _project(project_id: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": project_id, "name": state["name"], "description": state.get("description"),
        "ownerId": state["ownerId"], "visibility": state.get("visibility", "private"), "version": state["version"],
        "services": _services(state),
        "configuration": dumps(state["configuration"]),
        "createdAt": state.get("createdAt"), "updatedAt": state.get("updatedAt"),
    }


def _services(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": name, "templateId": s["templateId"], "templateVersion": s.get("templateVersion"),
             "parameters": dumps(s.get("parameters", {})), "dependsOn": s.get("dependsOn", [])}
            for name, s in sorted(state["services"].items())]


def project(id: str) -> dict[str, Any] | None:
    item = aws.client("dynamodb").get_item(TableName=aws.env("PROJECT_TABLE"), Key={"id": {"S": id}}).get("Item")
    if not item:
        return None
    state = project_projection.from_item(item)
    return _project(id, state) if may_see_project(id, state) else None


def _token(key: dict | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def _untoken(token: str | None, key_names: set[str]) -> dict | None:
    """A nextToken back to the DynamoDB key it encodes, checked: a forged token is a client mistake (400-like
    GraphQL error), never a DynamoDB or botocore error text."""
    if not token:
        return None
    forged = ValidationError("nextToken is not a token this API returned (pass the nextToken of the previous page "
                             "of the same query, unchanged).", [{"path": "$.nextToken"}])
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, binascii.Error):
        raise forged from None
    if not (isinstance(key, dict) and set(key) == key_names and all(
            isinstance(v, dict) and list(v) == ["S"] and isinstance(v["S"], str) and 0 < len(v["S"]) <= MAX_ID_BYTES
            for v in key.values())):
        raise forged
    return key


def _page_size(limit: int | None) -> int:
    if limit is None:
        return 20
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, got {limit}.", [{"path": "$.limit"}])
    return limit


def projects(ownerId: str | None = None, limit: int | None = None, nextToken: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"TableName": aws.env("PROJECT_TABLE"), "Limit": _page_size(limit)}
    if ownerId is not None:
        start = _untoken(nextToken, {"id", "ownerId", "updatedAt"})
        if start and start["ownerId"]["S"] != ownerId:
            raise ValidationError("nextToken belongs to another ownerId's listing.", [{"path": "$.nextToken"}])
        request.update(IndexName="byOwner", KeyConditionExpression="ownerId = :o",
                       ExpressionAttributeValues={":o": {"S": ownerId}}, ScanIndexForward=False)
    else:
        start = _untoken(nextToken, {"id"})
    if start:
        request["ExclusiveStartKey"] = start
    try:
        page = aws.client("dynamodb").query(**request) if ownerId is not None \
            else aws.client("dynamodb").scan(**request)
    except ClientError as error:  # a well-formed key of no item of this listing
        if error.response["Error"]["Code"] != "ValidationException" or not nextToken:
            raise
        raise ValidationError("nextToken is not a token this API returned.", [{"path": "$.nextToken"}]) from None
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


# AppSync's AWSDateTime: an extended ISO-8601 date-time with seconds optional, fraction optional and the offset
# required ("Z" or +hh:mm[:ss]).
_AWS_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2}(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}(?::\d{2})?)\Z")


def parse_aws_datetime(value: Any, name: str = "asOf") -> datetime:
    """An AWSDateTime string -> an aware datetime, or ValidationError saying what is wrong."""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be an AWSDateTime string such as 2026-11-30T12:00:00Z.",
                              [{"path": f"$.{name}"}])
    match = _AWS_DATETIME.match(value)
    if not match:
        raise ValidationError(f"{name} is not an AWSDateTime: expected YYYY-MM-DDThh:mm:ss[.sss] and an offset "
                              f"(Z or +hh:mm), got {value[:64]!r}.", [{"path": f"$.{name}"}])
    minute, seconds, fraction, offset = match.groups()
    text = minute + (seconds.split(".")[0] if seconds else ":00") + (f".{fraction[:6]:0<6}" if fraction else "")
    try:
        return datetime.fromisoformat(text + offset.replace("Z", "+00:00"))
    except ValueError as error:
        raise ValidationError(f"{name} is not a valid date-time: {error}.", [{"path": f"$.{name}"}]) from None


def _utc(value: Any) -> str | None:
    """An AWSDateTime as the store's timestamp format (UTC, milliseconds, Z) so that strings compare as times."""
    if value is None:
        return None
    try:
        moment = parse_aws_datetime(value).astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is in year 0 in UTC
        raise ValidationError("asOf is outside the years 0001-9999 once converted to UTC.",
                              [{"path": "$.asOf"}]) from None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def history(aggregateId: str, fromVersion: int | None = None, toVersion: int | None = None) -> list[dict[str, Any]]:
    """The stream's events, if the actor may see the stream (else empty): at most history_page.MAX_EVENTS, a range
    holding more is refused (historyPage pages through any). A User event's personal fields are opened for those
    allowed to see them; once the user's key is erased they are null and the data says `erased: true`."""
    history_page.ensure_room()
    events, more = history_page.read_history(aggregateId, fromVersion, toVersion, history_page.MAX_EVENTS)
    if more:
        raise history_page.too_many(fromVersion or 1, toVersion)
    return history_page.charged(events)


def historyPage(aggregateId: str, fromVersion: int | None = None, toVersion: int | None = None,
                limit: int | None = None, nextToken: str | None = None) -> dict[str, Any]:
    return history_page.page(aggregateId, fromVersion, toVersion, limit, nextToken)


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


def serviceTopology(projectId: str) -> dict[str, Any] | None:
    """The project's services, its dependency edges and a deploy order with every dependency before its
    dependents (ties by name), from the project read model."""
    item = aws.client("dynamodb").get_item(TableName=aws.env("PROJECT_TABLE"), Key={"id": {"S": projectId}}).get("Item")
    if not item:
        return None
    state = project_projection.from_item(item)
    if not may_see_project(projectId, state):
        return None
    services = state["services"]
    edges = sorted((name, dep) for name, s in services.items() for dep in s.get("dependsOn", []))
    return {"projectId": projectId, "version": state["version"], "services": _services(state),
            "edges": [{"from": a, "to": b} for a, b in edges], "deployOrder": deploy_order(services)}


def deploy_order(services: dict[str, dict[str, Any]]) -> list[str]:
    """Kahn's algorithm, smallest name first among the ready ones. AddService's DependenciesExist rule makes the
    graph acyclic; a dependency on a service that is not there (it cannot happen) is ignored."""
    waiting = {name: {d for d in s.get("dependsOn", []) if d in services} for name, s in services.items()}
    ready = [name for name, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for other, deps in waiting.items():
            if name in deps:
                deps.discard(name)
                if not deps:
                    heapq.heappush(ready, other)
    return order


def _template(template_id: str, state: dict[str, Any], body: str | None = None) -> dict[str, Any]:
    return {"id": template_id, "name": state["name"], "description": state.get("description"),
            "version": state["version"], "parameters": dumps(state["parameters"]),
            "bodySha256": state["bodySha256"], "bodySize": state["bodySize"], "body": body,
            "validation": state["validation"], "uploadedBy": state.get("uploadedBy"),
            "createdAt": state.get("createdAt"), "updatedAt": state.get("updatedAt")}


def template(id: str) -> dict[str, Any] | None:
    item = aws.client("dynamodb").get_item(TableName=aws.env("TEMPLATE_TABLE"), Key={"id": {"S": id}}).get("Item")
    if not item:
        return None
    state = template_projection.from_item(item)
    try:
        body = aws.template_bodies().get(state["bodyKey"], state["bodySha256"])
    except Exception:  # noqa: BLE001 - the details still answer; the body is null and the log says why
        log.exception("template body not readable", extra={"templateId": id, "bodyKey": state["bodyKey"]})
        body = None
    return _template(id, state, body)


def templates(limit: int | None = None, nextToken: str | None = None) -> dict[str, Any]:
    """The catalog, by name then id (the byName index); bodies are left out (null): read them with template(id)."""
    request: dict[str, Any] = {"TableName": aws.env("TEMPLATE_TABLE"), "IndexName": "byName",
                               "Limit": _page_size(limit), "KeyConditionExpression": "catalog = :c",
                               "ExpressionAttributeValues": {":c": {"S": template_projection.CATALOG}}}
    if start := _untoken(nextToken, {"id", "catalog", "sortKey"}):
        request["ExclusiveStartKey"] = start
    try:
        page = aws.client("dynamodb").query(**request)
    except ClientError as error:  # a well-formed key of no item of this listing
        if error.response["Error"]["Code"] != "ValidationException" or not nextToken:
            raise
        raise ValidationError("nextToken is not a token this API returned.", [{"path": "$.nextToken"}]) from None
    items = [_template(i["id"]["S"], template_projection.from_item(i)) for i in page["Items"]]
    return {"items": items, "nextToken": _token(page.get("LastEvaluatedKey"))}


def templateUsage(templateId: str) -> dict[str, Any]:
    """Services instantiated from the template, across the projects the reader may see (by project, then service
    name): a private project's id and service names are as private as the project (docs/reference/authorization.md)."""
    uses = usage_projection.uses(aws.client("dynamodb"), aws.env("USAGE_TABLE"), templateId)
    visible = _visible_projects({u.project_id for u in uses})
    uses = [u for u in uses if u.project_id in visible]
    return {"templateId": templateId, "serviceCount": len(uses), "projectCount": len({u.project_id for u in uses}),
            "services": [{"projectId": u.project_id, "serviceName": u.service_name,
                          "templateVersion": u.template_version} for u in uses]}


def _visible_projects(ids: set[str]) -> set[str]:
    """Those of `ids` whose project read model the reader may see (BatchGetItem, 100 keys a request; a project not
    projected yet stays hidden until it is)."""
    client, table, found = aws.client("dynamodb"), aws.env("PROJECT_TABLE"), set()
    pending = [{"id": {"S": i}} for i in sorted(ids)]
    while pending:
        request: dict[str, Any] = {table: {"Keys": pending[:100], "ConsistentRead": True}}
        pending = pending[100:]
        while request:
            page = client.batch_get_item(RequestItems=request)
            for item in page["Responses"].get(table, []):
                state = project_projection.from_item(item)
                if may_see_project(item["id"]["S"], state):
                    found.add(item["id"]["S"])
            request = page.get("UnprocessedKeys") or {}
    return found


def publishTemplateChanged(id: str, version: int, eventType: str) -> dict[str, Any]:
    return {"id": id, "version": version, "eventType": eventType}


def publishProjectChanged(id: str, version: int, eventType: str) -> dict[str, Any]:
    return {"id": id, "version": version, "eventType": eventType}


def publishUserChanged(id: str, version: int, eventType: str) -> dict[str, Any]:
    return {"id": id, "version": version, "eventType": eventType}


RESOLVERS: dict[str, Callable[..., Any]] = {
    "project": project, "projects": projects, "projectAt": projectAt, "history": history,
    "historyPage": historyPage,
    "user": user, "permissionMatrix": permissionMatrix,
    "publishProjectChanged": publishProjectChanged, "publishUserChanged": publishUserChanged,
    "serviceTopology": serviceTopology, "template": template,
    "templates": templates, "templateUsage": templateUsage, "publishTemplateChanged": publishTemplateChanged,
}


def resolve(field_name: str, arguments: dict[str, Any]) -> Any:
    """Run one field's resolver. A client mistake is a ChronicleError with a clear message; anything else is
    logged with an id, and the client sees only "internal error" and that id (never an exception's text)."""
    try:
        resolver = RESOLVERS[field_name]
    except KeyError:
        raise ValidationError(f"No resolver for field {field_name!r}.") from None
    for name in _ID_ARGUMENTS:
        value = arguments.get(name)
        if isinstance(value, str) and not 0 < len(value.encode()) <= MAX_ID_BYTES:
            raise ValidationError(f"{name} must be 1 to {MAX_ID_BYTES} bytes long.", [{"path": f"$.{name}"}])
    try:
        return resolver(**arguments)
    except ChronicleError:
        raise
    except Exception:
        error_id = str(uuid.uuid4())
        log.exception("resolver %s failed (error id %s)", field_name, error_id)
        raise InternalError(f"internal error (id {error_id})", [{"errorId": error_id}]) from None
