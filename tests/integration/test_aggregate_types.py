"""A stream has one aggregate type forever (docs/decisions/0010): a command of another type on it is 404
AggregateNotFound whoever asks (before authorization, the same answer as for a missing stream), a create on a taken
id is the same 409 whatever type took it, and reads and grants never fold another type's events."""

from __future__ import annotations

import pytest

import json

from chronicle import aws as chronicle_aws
from chronicle import errors
from chronicle.commands import decide_and_append, validate_request
from chronicle.domain import user
from test_authorization import grant, register, run


def stream(aggregate_id):
    return [(e["eventType"], e["metadata"]["aggregateType"])
            for e in chronicle_aws.event_store().read(aggregate_id, upcast=False)]


def legacy_project(project_id, creator="carl"):
    """A project stream whose id has no `project-` prefix: one created before typed id prefixes (decision 0010)."""
    command = validate_request({"commandType": "CreateProject", "actorId": creator,
                                "body": json.dumps({"data": {"name": "Old", "ownerId": creator}})})
    command["aggregateId"] = project_id
    return decide_and_append(command, chronicle_aws.event_store(), chronicle_aws.aggregate_loader())


def project(project_id="project-1", creator="carl"):
    return run("CreateProject", {"aggregateId": project_id, "data": {"name": "P", "ownerId": creator}},
               creator)["response"]["aggregateId"]


def not_found_like_a_missing_stream(command_type, body, actor):
    with pytest.raises(errors.AggregateNotFound) as refused:
        run(command_type, body, actor)
    with pytest.raises(errors.AggregateNotFound) as missing:
        run(command_type, {**body, "aggregateId": "no-such-stream"}, actor)
    assert refused.value.status == 404
    assert refused.value.details == [{**missing.value.details[0], "aggregateId": body["aggregateId"]}]
    assert refused.value.message.replace(body["aggregateId"], "X") == missing.value.message.replace(
        "no-such-stream", "X")


def test_a_project_command_on_a_user_stream_is_404_even_with_write_on_every_project(aws):
    register("bob", "bob@example.com")
    register("mallory", "mallory@example.com")
    grant("mallory", "project:*", "write")
    before = stream("bob")
    not_found_like_a_missing_stream("ChangeProjectConfiguration",
                                    {"aggregateId": "bob", "data": {"set": {"a": 1}}}, "mallory")
    assert stream("bob") == before


@pytest.mark.parametrize("command_type, data", [
    ("UpdateUserProfile", {"displayName": "Owned"}),  # was a 500
    ("EraseUserPersonalData", {}),  # was a 200 appending UserPersonalDataErased to the project
    ("ChangeUserPermissions", {"grant": [{"resource": "project:x", "permission": "read"}]}),
])
def test_a_user_command_on_a_project_stream_is_404_even_for_an_admin(aws, command_type, data):
    project("project-1", creator="carl")
    before = stream("project-1")
    for actor in ("carl", "root"):  # its creator, and a bootstrap admin
        not_found_like_a_missing_stream(command_type, {"aggregateId": "project-1", "data": data}, actor)
    assert stream("project-1") == before


def test_a_template_command_on_a_project_stream_is_404(aws):
    project("project-2", creator="carl")
    not_found_like_a_missing_stream("ChangeTemplateParameters",
                                    {"aggregateId": "project-2", "data": {"parameters": {"type": "object"}}}, "root")


def test_a_create_on_an_id_of_another_type_answers_as_for_a_taken_id_of_its_own_type(aws):
    legacy_project("bob-old")  # only a stream from before typed prefixes can hold an id a user may want
    project("project-3")
    with pytest.raises(errors.AggregateAlreadyExists) as other_type:
        run("RegisterUser", {"data": {"email": "b@example.com", "displayName": "B"}}, "bob-old")
    with pytest.raises(errors.AggregateAlreadyExists) as same_type:
        run("CreateProject", {"aggregateId": "project-3", "data": {"name": "P", "ownerId": "mallory"}}, "mallory")
    assert other_type.value.message.replace("bob-old", "X").replace("RegisterUser", "C") == \
        same_type.value.message.replace("project-3", "X").replace("CreateProject", "C")
    assert "Project" not in other_type.value.message
    assert stream("bob-old") == [("ProjectCreated", "Project")]


def test_a_create_project_cannot_take_a_future_users_id(aws):
    with pytest.raises(errors.ValidationError) as refused:
        run("CreateProject", {"aggregateId": "bob", "data": {"name": "P", "ownerId": "mallory"}}, "mallory")
    assert refused.value.status == 400
    assert [d["path"] for d in refused.value.details] == ["$.aggregateId"]
    assert "project-" in refused.value.details[0]["message"]
    assert stream("bob") == []
    register("bob", "bob@example.com")  # bob registers under his own actor id afterwards
    assert stream("bob") == [("UserRegistered", "User")]


@pytest.mark.parametrize("command_type, body", [
    ("CreateProject", {"aggregateId": "template-1", "data": {"name": "P", "ownerId": "m"}}),
    ("CreateProject", {"aggregateId": "project-", "data": {"name": "P", "ownerId": "m"}}),
    ("UploadTemplate", {"aggregateId": "project-9", "data": {"name": "T", "body": "x", "parameters": {}}}),
    ("UploadTemplate", {"aggregateId": "web", "data": {"name": "T", "body": "x", "parameters": {}}}),
    ("RegisterUser", {"aggregateId": "project-7", "data": {"email": "p@example.com", "displayName": "P"}}),
    ("RegisterUser", {"aggregateId": "template-7", "data": {"email": "t@example.com", "displayName": "T"}}),
])
def test_a_create_id_with_a_foreign_or_no_prefix_is_400(aws, command_type, body):
    with pytest.raises(errors.ValidationError) as refused:
        run(command_type, body, "root")
    assert {d["path"] for d in refused.value.details} == {"$.aggregateId"}
    assert stream(body["aggregateId"]) == []


@pytest.mark.parametrize("actor", ["project-4", "template-x"])
def test_an_actor_id_with_a_reserved_prefix_is_refused(aws, actor):
    with pytest.raises(errors.Forbidden):
        run("RegisterUser", {"data": {"email": "x@example.com", "displayName": "X"}}, actor)
    with pytest.raises(errors.Forbidden):
        run("CreateProject", {"data": {"name": "P", "ownerId": actor}}, actor)


def test_server_made_ids_carry_the_type_prefix(aws):
    assert run("CreateProject", {"data": {"name": "P", "ownerId": "o"}}, "o")["response"]["aggregateId"].startswith(
        "project-")


def test_an_actor_whose_id_is_a_project_holds_no_grants_and_loads_no_foreign_state(aws):
    legacy_project("proj-4", creator="carl")
    with pytest.raises(errors.Forbidden):  # its grants are folded from a User stream: there is none
        run("ChangeProjectConfiguration", {"aggregateId": project("project-5"), "data": {"set": {"a": 1}}}, "proj-4")
    loaded = chronicle_aws.aggregate_loader().load(user.AGGREGATE, "proj-4")
    assert loaded.version == 0 and loaded.foreign and not loaded.state["exists"]
