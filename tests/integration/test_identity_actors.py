"""Actors of AWS principals in the command workflow (chronicle.identity via ValidateCommand): an assumed role acts
as `role:<name>` whatever its session name, so nobody becomes an admin by naming a session after one (issue: an
assumed role's ARN carried the caller-chosen session name); the session name is kept in the event metadata."""

from __future__ import annotations

import json

import pytest

from chronicle import aws as chronicle_aws
from chronicle.commands import decide_and_append, validate_request
from chronicle.errors import Forbidden

ACCOUNT = "123456789012"
GRANT_STAR = {"aggregateId": "mallory", "data": {"grant": [{"resource": "*", "permission": "admin"}]}}


def run_as(identity, command_type, body):
    request = {"commandType": command_type, "body": json.dumps(body), "identity": identity,
               "homeAccount": ACCOUNT}
    return decide_and_append(validate_request(request), chronicle_aws.event_store(),
                             chronicle_aws.aggregate_loader())


def role_session(role, session):
    return {"sub": "", "cognitoIdentityId": "", "cognitoAuthenticationType": "",
            "userArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"}


def test_a_session_named_after_an_admin_grants_nothing(aws, monkeypatch):
    monkeypatch.setenv("ADMIN_ACTOR_IDS", "root,ops-admin")
    run_as({"sub": "mallory"}, "RegisterUser", {"data": {"email": "m@example.com", "displayName": "M"}})
    for session in ("root", "ops-admin", "root,ops-admin"):
        with pytest.raises(Forbidden) as refused:
            run_as(role_session("Intern", session), "ChangeUserPermissions", GRANT_STAR)
        assert "role:Intern" in refused.value.message


def test_the_listed_admin_id_still_works_and_the_session_is_metadata(aws, monkeypatch):
    monkeypatch.setenv("ADMIN_ACTOR_IDS", "role:Ops")
    outcome = run_as(role_session("Ops", "alice@example.com"), "RegisterUser",
                     {"data": {"email": "ops@example.com", "displayName": "Ops"}})
    assert outcome["response"]["aggregateId"] == "role:Ops"  # RegisterUser without aggregateId: the caller
    event = outcome["events"][0]
    assert event["metadata"]["actorId"] == "role:Ops"
    assert event["metadata"]["actorSession"] == "alice@example.com"
    granted = run_as(role_session("Ops", "bob"), "ChangeUserPermissions",
                     {"aggregateId": "role:Ops", "data": {"grant": [{"resource": "user:role:Ops",
                                                                      "permission": "write"}]}})
    assert granted["response"]["version"] == 2


# ---- the real handlers on samples shaped as API Gateway's template and AppSync's IAM identity make them ----------
def test_validate_command_maps_the_request_templates_identity(aws):
    from test_sample_events import Context, handler, sample

    command = handler("validate_command")(sample("validate_command", "create-project-as-role"), Context())
    assert command["actorId"] == "role:ChronicleCi" and command["actorSession"] == "build-4711"


def test_the_resolver_maps_an_iam_identity_and_refuses_another_accounts(aws, monkeypatch):
    from test_sample_events import Context, handler, sample

    monkeypatch.setenv("ADMIN_ACTOR_IDS", "role:ChronicleCi")  # an admin sees every project
    handler("project_projector")(sample("project_projector", "project-created-v1"), Context())
    resolver = handler("graphql_resolver")
    event = sample("graphql_resolver", "query-project-iam")
    assert resolver(event, Context())["name"] == "Payments"  # private, visible to role:ChronicleCi as admin
    monkeypatch.setenv("ADMIN_ACTOR_IDS", "build-4711")  # the session name is nobody
    assert resolver(event, Context()) is None
    event["identity"]["userArn"] = "arn:aws:sts::210987654321:assumed-role/ChronicleCi/build-4711"
    with pytest.raises(Exception) as caught:  # noqa: B017 - AppSync reads the class name and the text
        resolver(event, Context())
    assert type(caught.value).__name__ == "Forbidden"
