"""The User aggregate against moto: sealed personal data, email reservations, permissions and erasure."""

from __future__ import annotations

import json

import pytest

from chronicle import aws as chronicle_aws
from chronicle import errors
from chronicle.commands import decide_and_append, validate_request


def run(command_type, body, actor="alice"):
    command = validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": actor})
    return decide_and_append(command, chronicle_aws.event_store(), chronicle_aws.aggregate_loader())


def register(actor, email, name=None):
    return run("RegisterUser", {"data": {"email": email, "displayName": name or actor.title()}}, actor)


def keys_items(aws):
    return aws.scan(TableName="keys")["Items"]


def test_register_seals_personal_data_and_reserves_the_normalised_email(aws):
    outcome = register("alice", "  Alice@Example.COM ", "Alice A.")
    assert outcome["response"]["aggregateId"] == "alice"  # no aggregateId: the caller registers themself
    stored = aws.scan(TableName="events")["Items"]
    assert len(stored) == 1
    raw = json.dumps(stored)
    assert "alice@example.com" not in raw.lower() and "Alice A." not in raw
    data = json.loads(stored[0]["eventData"]["S"])
    assert data["email"].startswith("pii1.") and data["displayName"].startswith("pii1.")
    kinds = sorted(i["pk"]["S"].split("#")[0] for i in keys_items(aws))
    assert kinds == ["email", "key"]
    assert "example.com" not in json.dumps(keys_items(aws), default=str)
    vault = chronicle_aws.vault()
    assert vault.open_fields("alice", data, ("email", "displayName")) == {
        "email": "alice@example.com", "displayName": "Alice A."}


def test_a_second_registration_of_the_email_is_email_unique_and_stores_nothing(aws):
    register("alice", "a@example.com")
    with pytest.raises(errors.BusinessRuleViolation) as refused:
        register("bob", " A@EXAMPLE.com")
    assert refused.value.details[0]["rule"] == "EmailUnique"
    assert chronicle_aws.event_store().version("bob") == 0
    assert len(keys_items(aws)) == 2  # alice's key and reservation only: bob's key went with the failed transaction


def test_changing_the_email_moves_the_reservation(aws):
    register("alice", "a@example.com")
    register("bob", "b@example.com")
    with pytest.raises(errors.BusinessRuleViolation) as taken:
        run("UpdateUserProfile", {"aggregateId": "alice", "data": {"email": "b@example.com"}}, "alice")
    assert taken.value.details[0]["rule"] == "EmailUnique"
    run("UpdateUserProfile", {"aggregateId": "alice", "data": {"email": "new@example.com"}}, "alice")
    register("carol", "a@example.com")  # alice's old email is free again
    assert len([i for i in keys_items(aws) if i["pk"]["S"].startswith("email#")]) == 3
    with pytest.raises(errors.BusinessRuleViolation) as same:
        run("UpdateUserProfile", {"aggregateId": "alice", "data": {"email": " NEW@example.com"}}, "alice")
    assert same.value.details[0]["rule"] == "ProfileChanges"


def test_registering_another_actor_needs_admin(aws):
    with pytest.raises(errors.Forbidden) as refused:
        run("RegisterUser", {"aggregateId": "bob", "data": {"email": "b@example.com", "displayName": "Bob"}}, "alice")
    assert refused.value.details == [{"permission": "admin", "resource": "user:bob"}]
    assert chronicle_aws.event_store().version("bob") == 0
    # "root" is a bootstrap admin (ADMIN_ACTOR_IDS in the fixture)
    outcome = run("RegisterUser", {"aggregateId": "bob", "data": {"email": "b@example.com", "displayName": "Bob"}},
                  "root")
    assert outcome["events"][0]["metadata"]["actorId"] == "root"
    # the registering actor may update the profile it registered
    run("UpdateUserProfile", {"aggregateId": "bob", "data": {"displayName": "Robert"}}, "root")


def test_permission_changes_record_what_changed(aws):
    register("bob", "b@example.com")
    grant = {"resource": "project:p-1", "permission": "write"}
    first = run("ChangeUserPermissions", {"aggregateId": "bob", "data": {"grant": [grant]}}, "root")
    assert json.loads(json.dumps(first["events"][0]["eventData"])) == {"granted": [grant], "revoked": []}
    again = run("ChangeUserPermissions", {"aggregateId": "bob", "data": {"grant": [grant]}}, "root")
    assert again["events"][0]["eventData"] == {"granted": [], "revoked": []}
    with pytest.raises(errors.BusinessRuleViolation) as empty:
        run("ChangeUserPermissions", {"aggregateId": "bob", "data": {"grant": [], "revoke": []}}, "root")
    assert empty.value.details[0]["rule"] == "PermissionChangeNotEmpty"


def test_erasure_destroys_the_key_and_releases_the_email(aws):
    register("alice", "a@example.com")
    before = chronicle_aws.event_store().read("alice")
    run("EraseUserPersonalData", {"aggregateId": "alice", "data": {}}, "alice")
    assert keys_items(aws) == []
    after = chronicle_aws.event_store().read("alice")
    assert after[0] == before[0]  # the event itself is untouched
    assert chronicle_aws.vault().data_key("alice") is None
    register("bob", "a@example.com")  # the email is free
    with pytest.raises(errors.BusinessRuleViolation) as refused:
        run("UpdateUserProfile", {"aggregateId": "alice", "data": {"displayName": "Back"}}, "alice")
    assert refused.value.details[0]["rule"] == "PersonalDataErased"
    with pytest.raises(errors.BusinessRuleViolation):
        run("EraseUserPersonalData", {"aggregateId": "alice", "data": {}}, "alice")


def test_an_actor_id_that_is_not_an_aggregate_id_must_give_one(aws):
    with pytest.raises(errors.ValidationError):
        validate_request({"commandType": "RegisterUser", "actorId": "arn:aws:iam::1:user/x",
                          "body": json.dumps({"data": {"email": "x@example.com", "displayName": "X"}})})
