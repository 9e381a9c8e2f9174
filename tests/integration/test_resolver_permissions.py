"""The GraphQL resolver's role allows every DynamoDB request its query fields make, on the tables they make it on.

Every field runs here against moto (which checks no IAM), its requests recorded; each (action, table or index) must
be granted to GraphQLResolverFunction in template.yaml. `projects` without ownerId scanned the project table for
months with a role that had no dynamodb:Scan: in AWS that is an AccessDenied the client sees as "internal error".
"""

from __future__ import annotations

import os
from pathlib import Path

from template_steps import add_service, append, command, create_project, upload

from chronicle import aws as chronicle_aws
from chronicle import queries
from chronicle.local.stack import load_template
from chronicle.projections import project as project_projection
from chronicle.projections import usage

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")


def granted(function: str) -> set[tuple[str, str]]:
    """(action, resource) pairs of the function's inline policies: a resource is `<LogicalId>` for the table's
    ARN, `<LogicalId>/index/*` for its indexes."""
    out = set()
    for policy in TEMPLATE["Resources"][function]["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources:
                if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                    name = resource["Fn::GetAtt"]
                    name = name[0] if isinstance(name, list) else name.split(".")[0]
                elif isinstance(resource, dict) and "Fn::Sub" in resource:
                    name = resource["Fn::Sub"].replace("${", "").replace(".Arn}", "")
                else:
                    continue
                out |= {(action, name) for action in actions}
    return out


def logical_tables() -> dict[str, str]:
    """Table name in this test's account -> its logical id (through the Globals environment, as in AWS)."""
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    return {os.environ[var]: ref["Ref"] for var, ref in variables.items()
            if isinstance(ref, dict) and "Ref" in ref and var in os.environ}


def test_every_request_of_every_query_field_is_granted(aws):
    template_id = upload()["response"]["aggregateId"]
    project_id = create_project()
    add_service(project_id, "web", template_id, {"replicas": 1})
    append(command("RegisterUser", {"data": {"email": "alice@example.com", "displayName": "Alice"}}))
    store = chronicle_aws.event_store()
    for event in store.read(project_id, upcast=False):  # the read models the fields read
        project_projection.apply(event, store, os.environ["PROJECT_TABLE"])
        usage.apply(event, store, os.environ["USAGE_TABLE"])
    seen: list[tuple[str, str]] = []

    def record(params, model, **_):
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
        seen.extend((model.name, t + ("/index/*" if "IndexName" in params else "")) for t in tables)

    client = chronicle_aws.client("dynamodb")
    client.meta.events.register("before-parameter-build.dynamodb", record, unique_id="resolver-permissions")
    fields = [("project", {"id": project_id}), ("projects", {}), ("projects", {"ownerId": "alice"}),
              ("projectAt", {"id": project_id, "version": 1}), ("history", {"aggregateId": project_id}),
              ("user", {"id": "alice"}), ("permissionMatrix", {}), ("permissionMatrix", {"userId": "alice"}),
              ("serviceTopology", {"projectId": project_id}), ("template", {"id": template_id}),
              ("templates", {}), ("templateUsage", {"templateId": template_id})]
    try:
        for actor in ("root", "alice", None):  # an admin, the owner, anonymous: every branch of the checks
            with queries.acting_as(actor):
                for field, arguments in fields:
                    queries.resolve(field, dict(arguments))
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb", unique_id="resolver-permissions")
    names = logical_tables()
    allowed = granted("GraphQLResolverFunction")
    requests = {(f"dynamodb:{op}", names[table.split("/")[0]] + table[len(table.split("/")[0]):])
                for op, table in seen}
    assert {("dynamodb:Scan", "ProjectReadModelTable"), ("dynamodb:BatchGetItem", "ProjectReadModelTable")} <= requests
    assert sorted(requests - allowed) == []
