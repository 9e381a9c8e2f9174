"""docs/reference/authorization.md for every command: without the permission 403 and nothing stored; with it 200; revoked, 403 again.

The grants are read from the actor's own User stream (the event store), so a revoke is effective on the very next
command: no read model is involved.
"""

from __future__ import annotations

import itertools
import json

import pytest

from chronicle import aws as chronicle_aws
from chronicle import errors
from chronicle.commands import decide_and_append, validate_request
from chronicle.domain import all_commands
from chronicle.policy import covers
from template_steps import WEB, append, command, facts, upload

counter = itertools.count()


def run(command_type, body, actor):
    cmd = validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": actor})
    if command_type in WITH_FACTS:
        cmd = facts(cmd)
    return decide_and_append(cmd, chronicle_aws.event_store(), chronicle_aws.aggregate_loader())


def register(actor, email):
    return run("RegisterUser", {"data": {"email": email, "displayName": actor}}, actor)


def grant(actor, resource, permission, revoke=False):
    key = "revoke" if revoke else "grant"
    run("ChangeUserPermissions",
        {"aggregateId": actor, "data": {key: [{"resource": resource, "permission": permission}]}}, "root")


def setup_project():
    return run("CreateProject", {"data": {"name": "P", "ownerId": "olivia"}}, "olivia")["response"]["aggregateId"]


def setup_victim():
    register("victim", "victim@example.com")
    return "victim"


def setup_template():
    return upload()["response"]["aggregateId"]  # uploaded by alice


def setup_project_with_service():
    project = setup_project()
    template = setup_template()
    outcome = append(facts(command("AddService", {"aggregateId": project, "data": {
        "serviceName": "svc-a", "templateId": template, "parameters": {"replicas": 1}, "dependsOn": []}}, "olivia")))
    assert outcome["response"]["version"] == 2
    return project


def setup_project_and_template():
    project = setup_project()
    TEMPLATES[project] = setup_template()
    return project


def add_service_body(project):
    template = TEMPLATES[project]
    return {"aggregateId": project, "data": {"serviceName": f"svc-{next(counter)}", "templateId": template,
                                             "parameters": {"replicas": 2}, "dependsOn": []}}


TEMPLATES: dict[str, str] = {}
# commands whose workflow loads facts (LoadFacts) before AppendEvents
WITH_FACTS = {"AddService", "ValidateTemplate"}

# command -> (make the stream, body for a stream id, the (resource, permission) needed)
CASES = {
    "AddService": (setup_project_and_template, add_service_body, lambda i: (f"project:{i}", "write")),
    "RemoveService": (setup_project_with_service, lambda i: {"aggregateId": i, "data": {"serviceName": "svc-a"}},
                      lambda i: (f"project:{i}", "write")),
    "ValidateTemplate": (setup_template, lambda i: {"aggregateId": i, "data": {}},
                         lambda i: (f"template:{i}", "write")),
    "ChangeTemplateParameters": (
        setup_template,
        lambda i: {"aggregateId": i, "data": {"parameters": {**WEB, "description": f"v{next(counter)}"}}},
        lambda i: (f"template:{i}", "write")),
    "ChangeProjectConfiguration": (
        setup_project, lambda i: {"aggregateId": i, "data": {"set": {f"k{next(counter)}": 1}}},
        lambda i: (f"project:{i}", "write")),
    "RegisterUser": (
        lambda: "newcomer",
        lambda i: {"aggregateId": i, "data": {"email": f"n{next(counter)}@example.com", "displayName": "N"}},
        lambda i: (f"user:{i}", "admin")),
    "UpdateUserProfile": (
        setup_victim, lambda i: {"aggregateId": i, "data": {"displayName": f"V{next(counter)}"}},
        lambda i: (f"user:{i}", "write")),
    "ChangeUserPermissions": (
        setup_victim,
        lambda i: {"aggregateId": i, "data": {"grant": [{"resource": f"project:x{next(counter)}",
                                                         "permission": "read"}]}},
        lambda i: ("project:*", "admin")),
    "EraseUserPersonalData": (
        setup_victim, lambda i: {"aggregateId": i, "data": {}}, lambda i: (f"user:{i}", "admin")),
}
OPEN_TO_ANYONE = {"CreateProject", "RegisterUser", "UploadTemplate"}  # RegisterUser of oneself; of another id: CASES


def test_every_command_has_a_case():
    assert set(CASES) | OPEN_TO_ANYONE == all_commands()


def stored_counts(aws):
    return (aws.scan(TableName="events", Select="COUNT")["Count"], aws.scan(TableName="commands", Select="COUNT")["Count"])


@pytest.mark.parametrize("command_type", sorted(CASES))
def test_forbidden_then_granted_then_revoked(aws, command_type):
    make, body, needed = CASES[command_type]
    register("mallory", "mallory@example.com")
    stream = make()
    resource, permission = needed(stream)

    before = stored_counts(aws)
    with pytest.raises(errors.Forbidden) as refused:
        run(command_type, body(stream), "mallory")
    assert refused.value.details and all(d["permission"] == permission and covers(resource, d["resource"])
                                         for d in refused.value.details)
    assert refused.value.status == 403
    assert stored_counts(aws) == before  # nothing stored, not even the command record

    grant("mallory", resource, permission)
    assert run(command_type, body(stream), "mallory")["response"]["version"] >= 1

    grant("mallory", resource, permission, revoke=True)
    before = stored_counts(aws)
    with pytest.raises(errors.Forbidden):
        run(command_type, body(stream), "mallory")
    assert stored_counts(aws) == before


def test_the_uploader_changes_a_template_and_anyone_uses_a_validated_one(aws):
    template = setup_template()
    run("ChangeTemplateParameters", {"aggregateId": template, "data": {"parameters": WEB}}, "alice")
    run("ValidateTemplate", {"aggregateId": template, "data": {}}, "alice")  # as the workflow does right after
    project = run("CreateProject", {"data": {"name": "P", "ownerId": "bob"}}, "bob")["response"]["aggregateId"]
    outcome = run("AddService", {"aggregateId": project, "data": {"serviceName": "web", "templateId": template,
                                                                  "parameters": {"replicas": 1}, "dependsOn": []}}, "bob")
    assert outcome["response"]["version"] == 2  # bob holds nothing on alice's template


def test_the_owner_and_creator_change_a_project_without_grants(aws):
    project = run("CreateProject", {"data": {"name": "P", "ownerId": "olivia"}}, "carl")["response"]["aggregateId"]
    for actor in ("carl", "olivia"):
        run("ChangeProjectConfiguration", {"aggregateId": project, "data": {"set": {actor: 1}}}, actor)


def test_a_stronger_permission_or_a_pattern_covers(aws):
    project = setup_project()
    register("mallory", "mallory@example.com")
    grant("mallory", "project:*", "admin")
    run("ChangeProjectConfiguration", {"aggregateId": project, "data": {"set": {"a": 1}}}, "mallory")
    grant("mallory", "project:*", "admin", revoke=True)
    grant("mallory", f"project:{project}", "read")  # read does not imply write
    with pytest.raises(errors.Forbidden):
        run("ChangeProjectConfiguration", {"aggregateId": project, "data": {"set": {"b": 1}}}, "mallory")


def test_a_missing_stream_is_404_whoever_asks_and_400_comes_first(aws):
    with pytest.raises(errors.AggregateNotFound):
        run("ChangeProjectConfiguration", {"aggregateId": "nope", "data": {"set": {"a": 1}}}, "mallory")
    with pytest.raises(errors.ValidationError):
        run("ChangeProjectConfiguration", {"aggregateId": "nope", "data": {"set": 1}}, "mallory")


def test_granting_star_needs_admin_on_star(aws):
    setup_victim()
    register("mallory", "mallory@example.com")
    grant("mallory", "project:*", "admin")
    with pytest.raises(errors.Forbidden) as refused:
        run("ChangeUserPermissions", {"aggregateId": "victim", "data": {"grant": [{"resource": "*",
                                                                               "permission": "read"}]}}, "mallory")
    assert refused.value.details == [{"permission": "admin", "resource": "*"}]
