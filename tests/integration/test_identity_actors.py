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
