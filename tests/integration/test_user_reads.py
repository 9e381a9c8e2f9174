"""Reads of users and projects obey docs/reference/authorization.md, and erasure reaches every read path (docs/operations.md)."""

from __future__ import annotations

import json

from chronicle import aws as chronicle_aws
from chronicle import queries
from chronicle.commands import decide_and_append, validate_request
from chronicle.projections import project as project_projection
from chronicle.projections import user as user_projection
from chronicle.projections.registry import rebuild


def run(command_type, body, actor):
    command = validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": actor})
    outcome = decide_and_append(command, chronicle_aws.event_store(), chronicle_aws.aggregate_loader())
    for event in outcome["events"]:  # what EventBridge would deliver to the projectors
        projection = user_projection if event["metadata"]["aggregateType"] == "User" else project_projection
        projection.apply(event, chronicle_aws.event_store(), "users" if projection is user_projection else "projects")
    return outcome


def as_(actor, fn, *args, **kwargs):
    with queries.acting_as(actor):
        return fn(*args, **kwargs)


def test_user_profile_email_only_for_the_user_and_admins(aws):
    run("RegisterUser", {"data": {"email": "Alice@Example.com", "displayName": "Alice"}}, "alice")
    run("RegisterUser", {"data": {"email": "bob@example.com", "displayName": "Bob"}}, "bob")
    assert as_("alice", queries.user, "alice")["email"] == "alice@example.com"
    assert as_("root", queries.user, "alice")["email"] == "alice@example.com"  # bootstrap admin
    seen_by_bob = as_("bob", queries.user, "alice")
    assert seen_by_bob["email"] is None and seen_by_bob["displayName"] == "Alice"
    assert as_(None, queries.user, "alice") is None


def test_permission_matrix_for_the_user_and_admins(aws):
    run("RegisterUser", {"data": {"email": "a@example.com", "displayName": "A"}}, "alice")
    run("RegisterUser", {"data": {"email": "b@example.com", "displayName": "B"}}, "bob")
    grant = {"resource": "project:p", "permission": "read"}
    run("ChangeUserPermissions", {"aggregateId": "alice", "data": {"grant": [grant]}}, "root")
    run("ChangeUserPermissions", {"aggregateId": "bob", "data": {"grant": [grant]}}, "root")
    mine = [{"userId": "alice", **grant}]
    assert as_("alice", queries.permissionMatrix, "alice") == mine
    assert as_("alice", queries.permissionMatrix) == mine  # a non-admin without userId: their own
    assert as_("alice", queries.permissionMatrix, "bob") == []
    assert as_("root", queries.permissionMatrix) == [{"userId": "alice", **grant}, {"userId": "bob", **grant}]


def test_private_projects_are_seen_by_those_who_may_change_them_and_readers(aws):
    run("RegisterUser", {"data": {"email": "r@example.com", "displayName": "R"}}, "reader")
    private = run("CreateProject", {"data": {"name": "Secret", "ownerId": "olivia"}}, "carl")["response"]["aggregateId"]
    public = run("CreateProject", {"data": {"name": "Open", "ownerId": "olivia", "visibility": "public"}},
                 "carl")["response"]["aggregateId"]
    for actor in ("carl", "olivia", "root"):
        assert as_(actor, queries.project, private)["name"] == "Secret"
    assert as_("reader", queries.project, private) is None
    assert as_("reader", queries.history, private) == []
    assert as_("reader", queries.projectAt, private) is None
    assert [p["name"] for p in as_("reader", queries.projects)["items"]] == ["Open"]
    assert as_(None, queries.project, public)["name"] == "Open"
    run("ChangeUserPermissions", {"aggregateId": "reader", "data": {"grant": [
        {"resource": f"project:{private}", "permission": "read"}]}}, "root")
    assert as_("reader", queries.project, private)["name"] == "Secret"
    assert len(as_("reader", queries.history, private)) == 1


def test_after_erasure_no_read_path_shows_the_personal_data(aws):
    run("RegisterUser", {"data": {"email": "eve@example.com", "displayName": "Eve"}}, "eve")
    run("UpdateUserProfile", {"aggregateId": "eve", "data": {"displayName": "Eve Two"}}, "eve")
    before = as_("eve", queries.history, "eve")
    assert json.loads(before[0]["data"]) == {"email": "eve@example.com", "displayName": "Eve"}

    run("EraseUserPersonalData", {"aggregateId": "eve", "data": {}}, "eve")

    for viewer in ("eve", "root"):
        history = as_(viewer, queries.history, "eve")
        assert [e["eventType"] for e in history] == ["UserRegistered", "UserProfileUpdated", "UserPersonalDataErased"]
        assert json.loads(history[0]["data"]) == {"email": None, "displayName": None, "erased": True}
        assert json.loads(history[1]["data"]) == {"displayName": None, "erased": True}
        profile = as_(viewer, queries.user, "eve")
        assert profile["erased"] is True and profile["email"] is None and profile["displayName"] is None
    item = aws.get_item(TableName="users", Key={"id": {"S": "eve"}})["Item"]
    assert "email" not in item and "displayName" not in item

    # a rebuild of the read model from the (untouched) events shows nothing of them either
    aws.delete_item(TableName="users", Key={"id": {"S": "eve"}})
    report = rebuild("users", chronicle_aws.event_store(), "users")
    assert report.rebuilt == ["eve"]
    rebuilt = aws.get_item(TableName="users", Key={"id": {"S": "eve"}})["Item"]
    assert "email" not in rebuilt and "displayName" not in rebuilt and rebuilt["erased"]["BOOL"]
    # and nothing anywhere in the stored tables holds the plain values
    dump = json.dumps([aws.scan(TableName=t)["Items"] for t in ("events", "users", "keys", "snapshots")],
                      default=str)
    assert "eve@example.com" not in dump and "Eve Two" not in dump


def test_erasure_is_effective_before_the_read_model_sees_it(aws):
    run("RegisterUser", {"data": {"email": "lag@example.com", "displayName": "Lag"}}, "lag")
    command = validate_request({"commandType": "EraseUserPersonalData", "actorId": "lag",
                                "body": json.dumps({"aggregateId": "lag", "data": {}})})
    decide_and_append(command, chronicle_aws.event_store(), chronicle_aws.aggregate_loader())  # not projected
    profile = as_("lag", queries.user, "lag")
    assert profile["displayName"] is None and profile["email"] is None and profile["erased"] is True
