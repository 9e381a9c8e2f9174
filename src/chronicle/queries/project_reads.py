"""Project reads: one project now (``project``) or at a version or time (``projectAt``), and the listing
(``projects``, all or one owner's). A project the reader may not see reads as absent."""

from __future__ import annotations

from typing import Any

from chronicle import aws
from chronicle.domain import AGGREGATES
from chronicle.errors import ValidationError
from chronicle.eventstore.items import dumps
from chronicle.projections import project as project_projection
from chronicle.queries.datetimes import store_timestamp
from chronicle.queries.paging import page_size, read_page, token, untoken
from chronicle.queries.visibility import may_see_project


def project_view(project_id: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": project_id, "name": state["name"], "description": state.get("description"),
        "ownerId": state["ownerId"], "visibility": state.get("visibility", "private"), "version": state["version"],
        "services": services_view(state),
        "configuration": dumps(state["configuration"]),
        "createdAt": state.get("createdAt"), "updatedAt": state.get("updatedAt"),
    }


def services_view(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": name, "templateId": s["templateId"], "templateVersion": s.get("templateVersion"),
             "parameters": dumps(s.get("parameters", {})), "dependsOn": s.get("dependsOn", [])}
            for name, s in sorted(state["services"].items())]


def read_model(project_id: str) -> dict[str, Any] | None:
    """The project read model's state, if the project is projected and the reader may see it."""
    item = aws.client("dynamodb").get_item(TableName=aws.env("PROJECT_TABLE"),
                                           Key={"id": {"S": project_id}}).get("Item")
    if not item:
        return None
    state = project_projection.from_item(item)
    return state if may_see_project(project_id, state) else None


def project(id: str) -> dict[str, Any] | None:
    state = read_model(id)
    return project_view(id, state) if state is not None else None


def projects(ownerId: str | None = None, limit: int | None = None, nextToken: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"TableName": aws.env("PROJECT_TABLE"), "Limit": page_size(limit)}
    if ownerId is not None:
        start = untoken(nextToken, {"id", "ownerId", "updatedAt"})
        if start and start["ownerId"]["S"] != ownerId:
            raise ValidationError("nextToken belongs to another ownerId's listing.", [{"path": "$.nextToken"}])
        request.update(IndexName="byOwner", KeyConditionExpression="ownerId = :o",
                       ExpressionAttributeValues={":o": {"S": ownerId}}, ScanIndexForward=False)
    else:
        start = untoken(nextToken, {"id"})
    if start:
        request["ExclusiveStartKey"] = start
    dynamodb = aws.client("dynamodb")
    page = read_page(dynamodb.query if ownerId is not None else dynamodb.scan, request, nextToken)
    # Projects the actor may not see are left out, so a page can hold fewer than `limit` items: keep following
    # nextToken until it is null.
    states = [(i["id"]["S"], project_projection.from_item(i)) for i in page["Items"]]
    items = [project_view(pid, state) for pid, state in states if may_see_project(pid, state)]
    return {"items": items, "nextToken": token(page.get("LastEvaluatedKey"))}


def projectAt(id: str, version: int | None = None, asOf: str | None = None) -> dict[str, Any] | None:
    if version is not None and version < 1:
        raise ValidationError("version counts from 1.", [{"path": "$.version"}])
    loaded = aws.aggregate_loader().load(AGGREGATES["Project"], id, as_of_version=version,
                                         as_of_time=store_timestamp(asOf))
    return project_view(id, loaded.state) if loaded.version and may_see_project(id, loaded.state) else None
