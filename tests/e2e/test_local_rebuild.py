"""`chronicle projections rebuild` against the local runtime's AWS endpoint, as docs/operations.md shows it."""

from __future__ import annotations

import boto3
import pytest
from local_helpers import graphql, http

from chronicle.cli import main

pytestmark = pytest.mark.e2e


def test_a_lost_read_model_item_comes_back(runtime, capsys):
    status, body = http("POST", f"{runtime.url}/commands/CreateProject", {"data": {"name": "Lost", "ownerId": "o"}})
    assert status == 200, body
    project_id = body["aggregateId"]
    tables = runtime.stack.tables
    dynamodb = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")
    dynamodb.delete_item(TableName=tables["ProjectReadModelTable"], Key={"id": {"S": project_id}})
    query = "query Q($id: ID!) { project(id: $id) { name version } }"
    assert graphql(runtime.url, query, id=project_id)["project"] is None

    code = main(["projections", "rebuild", "--endpoint-url", runtime.aws_endpoint, "--region", "us-east-1",
                 "--event-table", tables["EventStoreTable"], "--read-model-table", tables["ProjectReadModelTable"],
                 "--id", project_id])
    assert code == 0, capsys.readouterr()
    assert graphql(runtime.url, query, id=project_id)["project"] == {"name": "Lost", "version": 1}
