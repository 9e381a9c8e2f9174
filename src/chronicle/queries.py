"""The query side: one function per GraphQL field, returning JSON-ready values (AWSJSON as JSON strings).

The same functions answer AppSync (functions/graphql_resolver) and the local /graphql endpoint.
"""

from __future__ import annotations

import base64
import heapq
import json
import logging
from typing import Any
from collections.abc import Callable

from chronicle import aws
from chronicle.domain import AGGREGATES
from chronicle.errors import ValidationError
from chronicle.eventstore.items import dumps
from chronicle.projections import project as project_projection
from chronicle.projections import template as template_projection
from chronicle.projections import usage as usage_projection
from datetime import UTC

MAX_PAGE = 100
log = logging.getLogger(__name__)


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
    return _project(id, project_projection.from_item(item)) if item else None


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
    items = [_project(i["id"]["S"], project_projection.from_item(i)) for i in page["Items"]]
    return {"items": items, "nextToken": _token(page.get("LastEvaluatedKey"))}


def projectAt(id: str, version: int | None = None, asOf: str | None = None) -> dict[str, Any] | None:
    if version is not None and version < 1:
        raise ValidationError("version counts from 1.", [{"path": "$.version"}])
    loaded = aws.aggregate_loader().load(AGGREGATES["Project"], id, as_of_version=version, as_of_time=_utc(asOf))
    return _project(id, loaded.state) if loaded.version else None


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
    events = aws.event_store().read(aggregateId, fromVersion or 1, toVersion)
    return [{"eventId": e["eventId"], "eventType": e["eventType"], "eventSequence": e["eventSequence"],
             "timestamp": e["timestamp"], "correlationId": e["correlationId"], "version": e["version"],
             "storedVersion": e.get("storedVersion", e["version"]), "actorId": e["metadata"].get("actorId"),
             "data": dumps(e["eventData"])} for e in events]


def _limit(limit: int | None) -> int:
    """SPEC section 5: 1-100, default 20; anything else is an error, never silently clamped."""
    if limit is None:
        return 20
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, not {limit}.", [{"path": "$.limit"}])
    return limit


def serviceTopology(projectId: str) -> dict[str, Any] | None:
    """The project's services, its dependency edges and a deploy order with every dependency before its
    dependents (ties by name), from the project read model."""
    item = aws.client("dynamodb").get_item(TableName=aws.env("PROJECT_TABLE"), Key={"id": {"S": projectId}}).get("Item")
    if not item:
        return None
    state = project_projection.from_item(item)
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
    request: dict[str, Any] = {"TableName": aws.env("TEMPLATE_TABLE"), "IndexName": "byName", "Limit": _limit(limit),
                               "KeyConditionExpression": "catalog = :c",
                               "ExpressionAttributeValues": {":c": {"S": template_projection.CATALOG}}}
    if start := _untoken(nextToken):
        request["ExclusiveStartKey"] = start
    page = aws.client("dynamodb").query(**request)
    items = [_template(i["id"]["S"], template_projection.from_item(i)) for i in page["Items"]]
    return {"items": items, "nextToken": _token(page.get("LastEvaluatedKey"))}


def templateUsage(templateId: str) -> dict[str, Any]:
    """Services instantiated from the template, across projects (by project, then service name)."""
    uses = usage_projection.uses(aws.client("dynamodb"), aws.env("USAGE_TABLE"), templateId)
    return {"templateId": templateId, "serviceCount": len(uses), "projectCount": len({u.project_id for u in uses}),
            "services": [{"projectId": u.project_id, "serviceName": u.service_name,
                          "templateVersion": u.template_version} for u in uses]}


def publishTemplateChanged(id: str, version: int, eventType: str) -> dict[str, Any]:
    return {"id": id, "version": version, "eventType": eventType}


def publishProjectChanged(id: str, version: int, eventType: str) -> dict[str, Any]:
    return {"id": id, "version": version, "eventType": eventType}


RESOLVERS: dict[str, Callable[..., Any]] = {
    "project": project, "projects": projects, "projectAt": projectAt, "history": history,
    "publishProjectChanged": publishProjectChanged, "serviceTopology": serviceTopology, "template": template,
    "templates": templates, "templateUsage": templateUsage, "publishTemplateChanged": publishTemplateChanged,
}


def resolve(field_name: str, arguments: dict[str, Any]) -> Any:
    try:
        resolver = RESOLVERS[field_name]
    except KeyError:
        raise ValidationError(f"No resolver for field {field_name!r}.") from None
    return resolver(**arguments)
