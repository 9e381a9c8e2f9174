"""A stream has one aggregate type forever (docs/decisions/0010): a command of another type on it is 404
AggregateNotFound whoever asks (before authorization, the same answer as for a missing stream), a create on a taken
id is the same 409 whatever type took it, and reads and grants never fold another type's events."""

from __future__ import annotations

import pytest

from chronicle import aws as chronicle_aws
from chronicle import errors
from chronicle.domain import user
from test_authorization import grant, register, run


def stream(aggregate_id):
    return [(e["eventType"], e["metadata"]["aggregateType"])
            for e in chronicle_aws.event_store().read(aggregate_id, upcast=False)]


def project(project_id="proj-1", creator="carl"):
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
    project("proj-1", creator="carl")
    before = stream("proj-1")
    for actor in ("carl", "root"):  # its creator, and a bootstrap admin
        not_found_like_a_missing_stream(command_type, {"aggregateId": "proj-1", "data": data}, actor)
    assert stream("proj-1") == before


def test_a_template_command_on_a_project_stream_is_404(aws):
    project("proj-2", creator="carl")
    not_found_like_a_missing_stream("ChangeTemplateParameters",
                                    {"aggregateId": "proj-2", "data": {"parameters": {"type": "object"}}}, "root")


def test_a_create_on_an_id_of_another_type_answers_as_for_a_taken_id_of_its_own_type(aws):
    register("bob", "bob@example.com")
    project("proj-3")
    with pytest.raises(errors.AggregateAlreadyExists) as other_type:
        run("CreateProject", {"aggregateId": "bob", "data": {"name": "P", "ownerId": "mallory"}}, "mallory")
    with pytest.raises(errors.AggregateAlreadyExists) as same_type:
        run("CreateProject", {"aggregateId": "proj-3", "data": {"name": "P", "ownerId": "mallory"}}, "mallory")
    assert other_type.value.message.replace("bob", "X") == same_type.value.message.replace("proj-3", "X")
    assert "User" not in other_type.value.message
    assert stream("bob") == [("UserRegistered", "User")]


def test_an_actor_whose_id_is_a_project_holds_no_grants_and_loads_no_foreign_state(aws):
    project("proj-4", creator="carl")
    with pytest.raises(errors.Forbidden):  # its grants are folded from a User stream: there is none
        run("ChangeProjectConfiguration", {"aggregateId": project("proj-5"), "data": {"set": {"a": 1}}}, "proj-4")
    loaded = chronicle_aws.aggregate_loader().load(user.AGGREGATE, "proj-4")
    assert loaded.version == 0 and loaded.foreign and not loaded.state["exists"]
