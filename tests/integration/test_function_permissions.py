"""Each function's role allows every request its code makes (DynamoDB, S3, EventBridge, KMS), on the resources it
makes it on: the code runs against moto, its requests recorded (iam_check), each must be granted to the function in
template.yaml. tests/integration/test_sample_events.py checks every function's sample invocations the same way.

The gaps this found were AccessDenied in AWS only: the GraphQL resolver scanned the project table (`projects`
without ownerId) with no dynamodb:Scan, and the usage projector's PutItem (whole items since issue 9) met a role that
allowed UpdateItem.
"""

from __future__ import annotations

import os

from iam_check import Recorder, ungranted
from template_steps import add_service, append, command, create_project, facts, upload

from chronicle import aws as chronicle_aws
from chronicle import queries
from chronicle.projections import project as project_projection
from chronicle.projections import template as template_projection
from chronicle.projections import usage
from chronicle.projections import user as user_projection


def project_with_services() -> tuple[str, str]:
    template_id = upload()["response"]["aggregateId"]
    project_id = create_project()
    add_service(project_id, "web", template_id, {"replicas": 1})
    add_service(project_id, "db", template_id, {"replicas": 1})
    append(command("RemoveService", {"aggregateId": project_id, "data": {"serviceName": "db"}}))
    return template_id, project_id


def test_the_projectors_requests_are_granted(aws):
    template_id, project_id = project_with_services()
    append(command("RegisterUser", {"data": {"email": "alice@example.com", "displayName": "Alice"}}))
    store = chronicle_aws.event_store()
    for function, apply, table, stream_id in (
            ("ProjectProjectorFunction", project_projection.apply, "PROJECT_TABLE", project_id),
            ("TemplateUsageProjectorFunction", usage.apply, "USAGE_TABLE", project_id),
            ("TemplateProjectorFunction", template_projection.apply, "TEMPLATE_TABLE", template_id),
            ("UserProjectorFunction", user_projection.apply, "USER_TABLE", "alice")):
        events = store.read(stream_id, upcast=False)
        with Recorder() as recorder:
            for event in events[1:] + events[:1] + events:  # a gap filled from the store, then duplicates
                apply(event, store, os.environ[table])
        requests = recorder.requests()
        assert any(action in ("dynamodb:PutItem", "dynamodb:UpdateItem") for action, _ in requests), function
        assert ungranted(function, requests) == [], function


def test_every_request_of_every_query_field_is_granted(aws):
    template_id, project_id = project_with_services()
    append(command("RegisterUser", {"data": {"email": "alice@example.com", "displayName": "Alice"}}))
    store = chronicle_aws.event_store()
    for event in store.read(project_id, upcast=False):  # the read models the fields read
        project_projection.apply(event, store, os.environ["PROJECT_TABLE"])
        usage.apply(event, store, os.environ["USAGE_TABLE"])
    fields = [("project", {"id": project_id}), ("projects", {}), ("projects", {"ownerId": "alice"}),
              ("projectAt", {"id": project_id, "version": 1}), ("history", {"aggregateId": project_id}),
              ("user", {"id": "alice"}), ("permissionMatrix", {}), ("permissionMatrix", {"userId": "alice"}),
              ("serviceTopology", {"projectId": project_id}), ("template", {"id": template_id}),
              ("templates", {}), ("templateUsage", {"templateId": template_id})]
    with Recorder() as recorder:
        for actor in ("root", "alice", None):  # an admin, the owner, anonymous: every branch of the checks
            with queries.acting_as(actor):
                for field, arguments in fields:
                    queries.resolve(field, dict(arguments))
    requests = recorder.requests()
    assert {("dynamodb:Scan", "ProjectReadModelTable"), ("dynamodb:BatchGetItem", "ProjectReadModelTable")} <= requests
    assert ungranted("GraphQLResolverFunction", requests) == []


def test_the_append_steps_requests_are_granted(aws):
    """AppendEvents over what its commands write: a create, updates up to a snapshot, a client commandId (the
    command log in the transaction), AddService's check on the template stream, a user's reservation and data key,
    an email moved, personal data erased."""
    template_id = upload()["response"]["aggregateId"]
    with Recorder() as recorder:
        project_id = create_project()
        for i in range(50):
            append(command("ChangeProjectConfiguration", {"aggregateId": project_id, "data": {"set": {"k": i}}}))
        append(command("ChangeProjectConfiguration", {"aggregateId": project_id, "commandId": "client-key-1",
                                                      "data": {"set": {"keyed": True}}}))
    with_facts = facts(command("AddService", {"aggregateId": project_id, "data": {  # LoadFacts' step, not this one
        "serviceName": "web", "templateId": template_id, "parameters": {"replicas": 1}}}))
    with Recorder() as users:
        append(with_facts)
        append(command("RegisterUser", {"data": {"email": "alice@example.com", "displayName": "Alice"}}))
        append(command("UpdateUserProfile", {"aggregateId": "alice", "data": {"email": "alice@example.org"}}))
        append(command("EraseUserPersonalData", {"aggregateId": "alice", "data": {}}))
    requests = recorder.requests() | users.requests()
    assert ("dynamodb:ConditionCheckItem", "EventStoreTable") in requests  # AddService's facts still hold
    assert ("dynamodb:PutItem", "SnapshotTable") in requests and ("dynamodb:PutItem", "CommandLogTable") in requests
    assert {("kms:GenerateDataKey", "PersonalDataKey"), ("kms:GenerateMac", "EmailMacKey")} <= requests
    assert ungranted("AppendEventsFunction", requests) == []
