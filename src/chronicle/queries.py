"""The query side: one function per GraphQL field, returning JSON-ready values (AWSJSON as JSON strings).

The same functions answer AppSync (functions/graphql_resolver) and the local /graphql endpoint.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from collections.abc import Callable

from chronicle import aws
from chronicle.domain import AGGREGATES
from chronicle.errors import ValidationError
from chronicle.eventstore import chain
from chronicle.eventstore.items import dumps, from_item
from chronicle.projections import project as project_projection
from datetime import UTC

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
    store = aws.event_store()
    entries = []
    for item in store.iter_items(aggregateId, fromVersion or 1, toVersion):  # archived ranges read through S3
        e = store.schemas.upcast(from_item(item))
        entries.append({
            "eventId": e["eventId"], "eventType": e["eventType"], "eventSequence": e["eventSequence"],
            "timestamp": e["timestamp"], "correlationId": e["correlationId"], "version": e["version"],
            "storedVersion": e.get("storedVersion", e["version"]), "actorId": e["metadata"].get("actorId"),
            "data": dumps(e["eventData"]),
            # the hash chain, for an auditor: hash = sha256(previous event's hash + canonical) (docs/eventstore.md)
            "hash": e.get("hash"), "canonical": chain.canonical(item)})
    return entries


def publishProjectChanged(id: str, version: int, eventType: str) -> dict[str, Any]:
    return {"id": id, "version": version, "eventType": eventType}


RESOLVERS: dict[str, Callable[..., Any]] = {
    "project": project, "projects": projects, "projectAt": projectAt, "history": history,
    "publishProjectChanged": publishProjectChanged,
}


def resolve(field_name: str, arguments: dict[str, Any]) -> Any:
    try:
        resolver = RESOLVERS[field_name]
    except KeyError:
        raise ValidationError(f"No resolver for field {field_name!r}.") from None
    return resolver(**arguments)
