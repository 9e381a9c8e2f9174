"""The one mapping from an authenticated AWS principal to an actor id (chronicle.identity), on real ARN shapes:
stable across sessions, a valid stream id and `user:<id>` resource, the session name never part of the id."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chronicle.errors import Forbidden
from chronicle.identity import Principal, arn_principal, principal_of, request_principal

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
ENVELOPE = json.loads((ROOT / "schemas" / "command-envelope.json").read_text())
PERMISSIONS = json.loads((ROOT / "schemas" / "commands" / "ChangeUserPermissions.json").read_text())


def _resource_pattern() -> str:
    def find(node):
        if isinstance(node, dict):
            if "resource" in node and isinstance(node["resource"], dict) and "pattern" in node["resource"]:
                return node["resource"]["pattern"]
            for value in node.values():
                found = find(value)
                if found:
                    return found
        return None
    return find(PERMISSIONS)


MAPPED = [
    # assumed roles: the role's name, whoever assumed it and under whichever session name
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/ci-run-42", "role:Deployer", "ci-run-42"),
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/botocore-session-1733312345", "role:Deployer",
     "botocore-session-1733312345"),
    # IAM Identity Center (SSO) permission sets: the session name is the person's e-mail
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6789/alice@example.com",
     "role:AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6789", "alice@example.com"),
    # a role created with a path (arn:aws:iam::...:role/teams/ci/Builder): STS leaves the path out of the session ARN
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/i-0abc123def4567890", "role:Builder", "i-0abc123def4567890"),
    # ... and if a path were ever shown, the name is the segment before the session
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/teams/ci/Builder/job-7", "role:Builder", "job-7"),
    # a Lambda function's execution role; other partitions
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/chronicle-GraphQLResolverFunctionRole-1A2B3C/chronicle-GraphQLResolver",
     "role:chronicle-GraphQLResolverFunctionRole-1A2B3C", "chronicle-GraphQLResolver"),
    (f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/Ops/ops", "role:Ops", "ops"),
    (f"arn:aws-us-gov:sts::{ACCOUNT}:assumed-role/Ops/ops", "role:Ops", "ops"),
    # IAM users, with and without a path
    (f"arn:aws:iam::{ACCOUNT}:user/alice", "iamuser:alice", None),
    (f"arn:aws:iam::{ACCOUNT}:user/division/ops/alice", "iamuser:alice", None),
    # IAM names may hold + = , (not stream-id characters): escaped one-to-one
    (f"arn:aws:iam::{ACCOUNT}:user/bob+ci=1,x", "iamuser:bob:2Bci:3D1:2Cx", None),
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/a+b/s", "role:a:2Bb", "s"),
]


@pytest.mark.parametrize("arn, actor, session", MAPPED)
def test_iam_principals_map_to_stable_actor_ids(arn, actor, session):
    assert arn_principal(arn, ACCOUNT) == Principal(actor, session)
    assert principal_of({"userArn": arn, "accountId": ACCOUNT}, ACCOUNT) == Principal(actor, session)


@pytest.mark.parametrize("arn, actor, session", MAPPED)
def test_every_mapped_id_is_a_valid_stream_id_and_user_resource(arn, actor, session):
    assert re.fullmatch(ENVELOPE["properties"]["aggregateId"]["pattern"], actor)
    assert len(actor) <= ENVELOPE["properties"]["aggregateId"]["maxLength"]
    assert re.fullmatch(_resource_pattern(), f"user:{actor}")
    assert "," not in actor  # AdminActorIds is comma-separated


def test_a_session_name_never_changes_the_actor():
    sessions = ["alice", "bob", "root", "role:Admin", "admin-1"]
    actors = {arn_principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/{s}").actor_id for s in sessions}
    assert actors == {"role:Deployer"}


def test_escaping_keeps_distinct_names_distinct():
    names = ["a+b", "a=b", "a,b", "a:2Bb", "a_b", "a.b", "a-b", "a@b"]
    ids = {arn_principal(f"arn:aws:iam::{ACCOUNT}:user/{n}").actor_id for n in names if ":" not in n}
    assert len(ids) == len([n for n in names if ":" not in n])


@pytest.mark.parametrize("arn, why", [
    (f"arn:aws:iam::{ACCOUNT}:root", "root user"),
    (f"arn:aws:sts::{ACCOUNT}:federated-user/alice", "federated user"),
    ("arn:aws:sts::999999999999:assumed-role/Deployer/x", "account 999999999999"),
    (f"arn:aws:iam::{ACCOUNT}:role/Deployer", "not mapped"),
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer", "not mapped"),
    ("alice", "not an IAM or STS principal ARN"),
    (f"arn:aws:iam::{ACCOUNT}:user/" + "a" * 200, "not an IAM name"),
])
def test_principals_that_cannot_be_actors_are_refused(arn, why):
    with pytest.raises(Forbidden) as refused:
        principal_of({"userArn": arn}, ACCOUNT)
    assert why in refused.value.message
    assert refused.value.details[0]["reason"] == "PrincipalNotMapped"


def test_cognito_user_pool_sub_is_the_actor_and_wins():
    sub = "3f8a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
    assert principal_of({"sub": sub}) == Principal(sub)
    # API Gateway fills the fields it has; AppSync's Cognito identity has claims, username, issuer besides
    assert principal_of({"sub": sub, "userArn": "", "cognitoIdentityId": ""}) == Principal(sub)
    assert principal_of({"sub": sub, "username": "alice", "claims": {"sub": sub}, "issuer": "x"}) == Principal(sub)
    with pytest.raises(Forbidden):
        principal_of({"sub": "a/b"})


def test_cognito_identity_pool_ids():
    identity_id = "us-east-1:0b9a8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
    role_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/Cognito_ChronicleAuth_Role/CognitoIdentityCredentials"
    api_gateway = {"cognitoIdentityId": identity_id, "cognitoAuthenticationType": "authenticated",
                   "userArn": role_arn}
    appsync = {"cognitoIdentityId": identity_id, "cognitoIdentityAuthType": "authenticated", "userArn": role_arn,
               "accountId": ACCOUNT}
    assert principal_of(api_gateway, ACCOUNT) == Principal(f"cognito:{identity_id}")
    assert principal_of(appsync, ACCOUNT) == Principal(f"cognito:{identity_id}")
    guest = {**api_gateway, "cognitoAuthenticationType": "unauthenticated"}
    assert principal_of(guest, ACCOUNT) is None


def test_nothing_is_anonymous():
    assert principal_of(None) is None
    assert principal_of({}) is None
    assert principal_of({"sub": "", "userArn": "", "cognitoIdentityId": ""}) is None


def test_workflow_input_uses_the_mapping_in_aws_and_the_header_locally():
    aws_input = {"identity": {"sub": "", "cognitoIdentityId": "", "cognitoAuthenticationType": "",
                              "userArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/alice"},
                 "homeAccount": ACCOUNT, "actorId": "ignored-when-identity-is-given"}
    assert request_principal(aws_input) == Principal("role:Deployer", "alice")
    assert request_principal({"identity": {"sub": "", "userArn": ""}}) == Principal("anonymous")
    assert request_principal({"actorId": "alice"}) == Principal("alice")
    assert request_principal({}) == Principal("anonymous")


@pytest.mark.parametrize("sub", ["project-1", "template-abc"])
def test_a_principal_mapping_to_a_typed_id_prefix_is_refused(sub):
    """docs/decisions/0010: no actor id (hence no User id) starts with `project-` or `template-`."""
    with pytest.raises(Forbidden):
        principal_of({"sub": sub})
    assert principal_of({"sub": "project1-x"}) == Principal("project1-x")  # only the prefix itself is reserved
