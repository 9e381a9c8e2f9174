"""The actor on the command API in AWS: api/openapi.yaml's request template (rendered as API Gateway would,
tests/unit/apigateway_vtl.py) passes the raw identity fields, and ValidateCommand maps them (chronicle.identity).

People call /commands/{commandType} with a Cognito user pool token (the actor is its sub); machines call
/iam/commands/{commandType} signed with SigV4 (the actor is derived from the principal, never its ARN)."""

from __future__ import annotations

import json

import pytest

from chronicle.commands import validate_request
from chronicle.errors import Forbidden
from test_api_gateway_templates import OPENAPI, start_sync_execution_request

ACCOUNT = "123456789012"  # what Fn::Sub puts for ${AWS::AccountId} in these tests
BODY = '{"data":{"name":"Demo","ownerId":"alice"}}'


def _validated(context):
    request = start_sync_execution_request("CreateProject", BODY, context)
    return validate_request(json.loads(request["input"]))


def test_the_two_routes_differ_only_in_their_authorizer():
    cognito = OPENAPI["paths"]["/commands/{commandType}"]["post"]
    iam = OPENAPI["paths"]["/iam/commands/{commandType}"]["post"]
    assert cognito["security"] == [{"cognito": []}]
    assert iam["security"] == [{"sigv4": []}]
    assert cognito["x-amazon-apigateway-integration"] == iam["x-amazon-apigateway-integration"]
    assert {k: v for k, v in cognito.items() if k not in ("security", "operationId")} == \
        {k: v for k, v in iam.items() if k not in ("security", "operationId")}
    scheme = OPENAPI["components"]["securitySchemes"]["cognito"]
    assert scheme["x-amazon-apigateway-authtype"] == "cognito_user_pools"
    assert scheme["x-amazon-apigateway-authorizer"]["type"] == "cognito_user_pools"


def test_a_cognito_token_acts_as_its_sub():
    command = _validated({"authorizer": {"claims": {"sub": "3f8a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"}}})
    assert command["actorId"] == "3f8a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
    assert "actorSession" not in command


def test_an_assumed_role_acts_as_the_role_and_keeps_its_session_name_apart():
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/o'neil@example.com"
    command = _validated({"identity": {"userArn": arn, "accountId": ACCOUNT}})
    assert command["actorId"] == "role:Deployer"
    assert command["actorSession"] == "o'neil@example.com"


def test_an_iam_user_and_the_root_user():
    assert _validated({"identity": {"userArn": f"arn:aws:iam::{ACCOUNT}:user/ops/bob"}})["actorId"] == "iamuser:bob"
    with pytest.raises(Forbidden):
        _validated({"identity": {"userArn": f"arn:aws:iam::{ACCOUNT}:root"}})


def test_a_principal_of_another_account_is_refused():
    with pytest.raises(Forbidden):
        _validated({"identity": {"userArn": "arn:aws:sts::210987654321:assumed-role/Deployer/x"}})


def test_no_identity_is_anonymous_and_the_body_cannot_name_one():
    assert _validated({})["actorId"] == "anonymous"
    sneaky = '{"data":{"name":"x","ownerId":"a"},"actorId":"root","identity":{"sub":"root"}}'
    request = json.loads(start_sync_execution_request("CreateProject", sneaky, {})["input"])
    assert request["identity"]["sub"] == ""  # the body stays a string inside the input
    with pytest.raises(Exception) as refused:
        validate_request(request)  # and its unknown members are refused by the envelope schema
    assert "ValidationError" in type(refused.value).__name__
