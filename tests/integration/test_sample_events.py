"""Every sample under events/<function>/ fed to its real handler, as `sam local invoke -e` would, on moto.

The samples chain: a stored v1 ProjectCreated is projected, then the resolver reads it; a command runs through
validate -> append -> publish. Every invocation's AWS requests must be allowed by its function's role in
template.yaml (iam_check): moto checks no IAM, AWS does.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path

import pytest
from iam_check import Recorder, function_of, ungranted

from chronicle import errors

ROOT = Path(__file__).resolve().parents[2]


class Context:
    function_name = "sample"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sample"
    aws_request_id = "sample-request"

    def get_remaining_time_in_millis(self):
        return 30_000


def handler(function: str):
    """functions/<function>/app.py's handler; each call's requests are checked against the function's role."""
    spec = importlib.util.spec_from_file_location(f"sample_{function}_{uuid.uuid4().hex}",
                                                  ROOT / "functions" / function / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    role = function_of(function)

    def invoke(event, context):
        with Recorder() as recorder:
            try:
                return module.handler(event, context)
            finally:
                assert ungranted(role, recorder.requests()) == [], role

    return invoke


def sample(function: str, case: str) -> dict:
    return json.loads((ROOT / "events" / function / f"{case}.json").read_text())


def test_every_function_has_samples_and_every_sample_a_function():
    functions = {p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists()}
    samples = {p.name for p in (ROOT / "events").iterdir() if list(p.glob("*.json"))}
    assert functions == samples


def test_validate_command_samples(aws):
    command = handler("validate_command")(sample("validate_command", "create-project"), Context())
    assert command["aggregateId"] == "project-sample-1" and command["data"]["name"] == "Payments"
    with pytest.raises(errors.ValidationError):
        handler("validate_command")(sample("validate_command", "invalid-body"), Context())


def test_append_then_publish_samples(aws):
    outcome = handler("append_events")(sample("append_events", "create-project"), Context())
    assert outcome["response"]["version"] == 1 and outcome["response"]["events"][0]["eventType"] == "ProjectCreated"
    assert "events" not in outcome  # state data stays small: PublishEvents reads the events back by `stream`
    assert handler("publish_events")(sample("publish_events", "project-created"), Context()) == {"published": 1}


def test_republish_batch_sample_and_a_partial_failure(aws, monkeypatch):
    handler("append_events")(sample("append_events", "create-project"), Context())
    publish_events = handler("publish_events")
    batch = sample("publish_events", "republish-batch")
    assert publish_events(batch, Context()) == {"batchItemFailures": []}
    # a record whose put is refused goes back to the queue; the others are done
    refused = json.loads(json.dumps(batch["Records"][0]))
    refused["messageId"] = "refused"
    refused["body"] = json.dumps({"stream": {"aggregateId": "project-sample-1", "fromSequence": 1,
                                             "toSequence": 1}, "note": "refused"})
    calls = []

    def put_events(Entries):  # noqa: N803 - boto3's parameter name
        calls.append(Entries)
        if len(calls) == 2:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]}
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]}

    import chronicle.aws as chronicle_aws

    monkeypatch.setattr(chronicle_aws.client("events"), "put_events", put_events)
    result = handler("publish_events")({"Records": [batch["Records"][0], refused]}, Context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "refused"}]}


def test_projector_announces_each_change_once_and_never_fails_for_it(aws, monkeypatch):
    import chronicle.aws as chronicle_aws

    sent = []
    events_client = chronicle_aws.client("events")
    monkeypatch.setattr(events_client, "put_events", lambda Entries: sent.append(Entries) or  # noqa: N803
                        {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]})
    projector = handler("project_projector")
    projector(sample("project_projector", "project-created-v1"), Context())
    projector(sample("project_projector", "project-created-v1"), Context())  # a duplicate: nothing to announce
    assert len(sent) == 1
    [entry] = sent[0]
    assert (entry["Source"], entry["DetailType"]) == ("chronicle.projections", "ProjectChanged")
    assert json.loads(entry["Detail"]) == {"id": "project-sample-1", "version": 1, "eventType": "ProjectCreated"}

    def bus_down(Entries):  # noqa: N803
        raise RuntimeError("bus down")

    monkeypatch.setattr(events_client, "put_events", bus_down)
    event = sample("project_projector", "project-created-v1")
    event["detail"]["aggregateId"] = "project-sample-2"
    assert projector(event, Context())["applied"] == 1  # written; the announcement is best effort


def test_projector_then_resolver_samples(aws):
    result = handler("project_projector")(sample("project_projector", "project-created-v1"), Context())
    assert result == {"applied": 1, "skipped": False, "version": 1}
    again = handler("project_projector")(sample("project_projector", "project-created-v1"), Context())
    assert again["skipped"]
    project = handler("graphql_resolver")(sample("graphql_resolver", "query-project"), Context())
    assert project["name"] == "Payments" and project["visibility"] == "private"
    assert handler("graphql_resolver")(sample("graphql_resolver", "query-history"), Context()) == []


def test_archive_and_verify_samples(aws):
    from chronicle import aws as chronicle_aws
    from chronicle.domain import AGGREGATES

    handler("append_events")(sample("append_events", "create-project"), Context())
    store = chronicle_aws.event_store()
    store.append("project-sample-1", [{**store.read("project-sample-1", upcast=False)[0], "eventType":
                                       "ProjectConfigurationChanged", "version": "1",
                                       "eventData": {"set": {"a": 1}, "unset": []}}], 1)
    loader = chronicle_aws.aggregate_loader()
    loaded = loader.load(AGGREGATES["Project"], "project-sample-1")
    loader.save_snapshot(AGGREGATES["Project"], "project-sample-1", loaded)  # 2 events: not due yet
    archive = handler("archive_events")
    plan = archive(sample("archive_events", "plan"), Context())
    assert plan["streams"] == ["project-sample-1"] and plan["hasMorePages"] is False
    outcome = archive(sample("archive_events", "archive-stream"), Context())
    assert outcome == {"aggregateId": "project-sample-1", "cutoff": "2099-01-01T00:00:00.000Z", "archived": 1,
                       "more": False}  # event 1; event 2 is the newest and stays
    tally = archive(sample("archive_events", "tally"), Context())
    assert tally["totals"] == {"streams": 1, "events": 49,
                               "failed": [{"aggregateId": "project-sample-2", "error": "ArchiveRefused"}]}
    assert tally["failedCount"] == 1
    verified = handler("verify_chain")(sample("verify_chain", "verify-stream"), Context())
    assert verified["ok"] and verified["reports"][0]["sources"] == {"archive": 1, "table": 1}


def test_stream_publisher_sample_and_a_refused_entry(aws, monkeypatch):
    """The safety net puts what PublishEvents would put (same Source, DetailType, Detail), skips items that are not
    events, and reports a refused entry's record so that Lambda retries from it."""
    import chronicle.aws as chronicle_aws
    from chronicle.commands import event_bridge_entries
    from chronicle.eventstore.items import from_item

    events_client = chronicle_aws.client("events")
    stream_publisher = handler("stream_publisher")
    batch = sample("stream_publisher", "event-inserted")
    calls = []

    def put_events(Entries):  # noqa: N803 - boto3's parameter name
        calls.append(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}

    assert stream_publisher(batch, Context()) == {"batchItemFailures": []}  # on the bus (moto's), its role checked
    monkeypatch.setattr(events_client, "put_events", put_events)
    assert stream_publisher(batch, Context()) == {"batchItemFailures": []}
    stored = from_item(batch["Records"][0]["dynamodb"]["NewImage"])
    assert calls == [event_bridge_entries([stored], "chronicle-events")]  # the reservation item is not an event

    def refuse(Entries):  # noqa: N803
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]}

    monkeypatch.setattr(events_client, "put_events", refuse)
    assert stream_publisher(batch, Context()) == {
        "batchItemFailures": [{"itemIdentifier": "111100000000000000000001"}]}


def test_resolver_errors_reach_appsync_as_their_code_and_a_plain_message(aws, caplog):
    resolver = handler("graphql_resolver")
    event = sample("graphql_resolver", "query-history")
    event["arguments"] = {"aggregateId": ""}
    with pytest.raises(Exception) as caught:  # noqa: B017 - AppSync reads the class name and the text
        resolver(event, Context())
    assert type(caught.value).__name__ == "ValidationError" and not str(caught.value).startswith("{")
    event["arguments"] = {"aggregateId": "x", "fromVersion": "not a number"}  # makes the store fail inside
    with pytest.raises(Exception) as caught:  # noqa: B017
        resolver(event, Context())
    assert type(caught.value).__name__ == "InternalError" and str(caught.value).startswith("internal error (id ")


def test_template_and_service_samples_chain(aws):
    """UploadTemplate's steps (store body -> append -> validate), AddService's (facts -> append), the two
    projectors and the resolver, each from its sample."""
    from chronicle import queries

    command = handler("store_template_body")(sample("store_template_body", "upload-template"), Context())
    assert "body" not in command["data"] and command["data"]["bodyKey"].startswith("templates/")
    follow_up = sample("load_facts", "validate-after-upload")
    assert {k: v for k, v in follow_up["after"].items() if k != "outcome"} == command  # the sample is this step's
    uploaded = handler("append_events")({"command": command}, Context())
    assert uploaded["response"] == follow_up["after"]["outcome"]["response"] | {
        "events": [uploaded["response"]["events"][0]]}
    validate = handler("load_facts")(follow_up, Context())
    assert validate["facts"] == {"atVersion": 1, "validation": {"valid": True, "errors": []}}
    validated = handler("append_events")({"command": validate}, Context())
    assert [e["eventType"] for e in validated["response"]["events"]] == ["TemplateUploaded", "TemplateValidated"]

    handler("append_events")(sample("append_events", "create-project"), Context())
    add = handler("load_facts")(sample("load_facts", "add-service"), Context())
    assert add["facts"]["checks"] == [{"aggregateId": "template-sample-1", "version": 2}]
    assert handler("append_events")({"command": add}, Context())["response"]["version"] == 2

    assert handler("template_projector")(sample("template_projector", "template-uploaded"), Context())["applied"] == 1
    assert handler("template_usage_projector")(sample("template_usage_projector", "service-added"),
                                               Context())["version"] == 2
    template = handler("graphql_resolver")(sample("graphql_resolver", "query-template"), Context())
    assert template["body"].startswith("kind: Deployment") and template["validation"] is None  # only event 1 yet
    # a private project's services are listed to who may see the project: its read model says who (alice's)
    assert handler("project_projector")(sample("project_projector", "project-created-v1"), Context())["applied"] == 1
    usage = handler("graphql_resolver")(sample("graphql_resolver", "query-template-usage"), Context())
    assert usage["serviceCount"] == 1
    with queries.acting_as("alice"):
        assert queries.templateUsage("template-sample-1") == usage
    assert queries.templateUsage("template-sample-1")["serviceCount"] == 0  # anonymous sees no private project


def test_user_projector_sample(aws):
    result = handler("user_projector")(sample("user_projector", "user-registered"), Context())
    assert result == {"applied": 1, "skipped": False, "version": 1}
    item = aws.get_item(TableName="users", Key={"id": {"S": "sample-user-1"}})["Item"]
    assert item["email"]["S"].startswith("pii1.")  # the read model keeps personal data sealed


def test_subscribing_is_checked_by_the_resolver_sample(aws):
    """AppSync runs the resolver when a client subscribes: alice may follow her private project; a stranger, an
    anonymous caller and a subscription to every project (no id, no read on project:*) are refused."""
    handler("project_projector")(sample("project_projector", "project-created-v1"), Context())
    resolver = handler("graphql_resolver")
    event = sample("graphql_resolver", "subscribe-project-changed")
    assert resolver(event, Context()) is None
    for identity, arguments in (({"sub": "mallory"}, {"id": "project-sample-1"}), (None, {"id": "project-sample-1"}),
                                ({"sub": "alice"}, {}), ({"sub": "mallory"}, {"id": "no-such-project"})):
        with pytest.raises(Exception) as caught:  # noqa: B017 - AppSync reads the class name and the text
            resolver({**event, "identity": identity, "arguments": arguments}, Context())
        assert type(caught.value).__name__ == "Forbidden", (identity, arguments)
    root = {**event, "identity": {"sub": "root"}, "arguments": {}}  # ADMIN_ACTOR_IDS: read on everything
    assert resolver(root, Context()) is None
