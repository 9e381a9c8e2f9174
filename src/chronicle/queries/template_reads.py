"""Template reads: one template with its body (``template``), the catalog (``templates``) and where a template is
used (``templateUsage``, only across the projects the reader may see)."""

from __future__ import annotations

import logging
from typing import Any

from chronicle import aws
from chronicle.eventstore.items import dumps
from chronicle.projections import template as template_projection
from chronicle.projections import usage as usage_projection
from chronicle.queries.paging import page_size, read_page, token, untoken
from chronicle.queries.visibility import visible_projects

log = logging.getLogger(__name__)


def template_view(template_id: str, state: dict[str, Any], body: str | None = None) -> dict[str, Any]:
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
    return template_view(id, state, body)


def templates(limit: int | None = None, nextToken: str | None = None) -> dict[str, Any]:
    """The catalog, by name then id (the byName index); bodies are left out (null): read them with template(id)."""
    request: dict[str, Any] = {"TableName": aws.env("TEMPLATE_TABLE"), "IndexName": "byName",
                               "Limit": page_size(limit), "KeyConditionExpression": "catalog = :c",
                               "ExpressionAttributeValues": {":c": {"S": template_projection.CATALOG}}}
    if start := untoken(nextToken, {"id", "catalog", "sortKey"}):
        request["ExclusiveStartKey"] = start
    page = read_page(aws.client("dynamodb").query, request, nextToken)
    items = [template_view(i["id"]["S"], template_projection.from_item(i)) for i in page["Items"]]
    return {"items": items, "nextToken": token(page.get("LastEvaluatedKey"))}


def templateUsage(templateId: str) -> dict[str, Any]:
    """Services instantiated from the template, across the projects the reader may see (by project, then service
    name): a private project's id and service names are as private as the project (docs/reference/authorization.md)."""
    uses = usage_projection.uses(aws.client("dynamodb"), aws.env("USAGE_TABLE"), templateId)
    visible = visible_projects({u.project_id for u in uses})
    uses = [u for u in uses if u.project_id in visible]
    return {"templateId": templateId, "serviceCount": len(uses), "projectCount": len({u.project_id for u in uses}),
            "services": [{"projectId": u.project_id, "serviceName": u.service_name,
                          "templateVersion": u.template_version} for u in uses]}
