"""A bus that refuses the events: the command still succeeds (its events are stored facts), the workflow queues the
stream on RepublishQueue, and PublishEvents, fed by that queue, publishes them once the bus takes them again. And
a workflow that publishes nothing at all (its publish step crashes, the queue is down): the event table's stream
(StreamPublisherFunction, the safety net) still gets the event to the read model."""

from __future__ import annotations

import threading

import pytest
from local_helpers import graphql, http, wait_for
from moto.events.models import EventsBackend

pytestmark = pytest.mark.e2e


@pytest.fixture
def refusing_bus(runtime, monkeypatch):
    """The bus refuses every entry of the next `refusals` PutEvents calls of domain events (source
    chronicle.Project; the projector's own announcements pass), then accepts again."""
    runtime.dispatcher.wait_idle()  # nothing of an earlier test still on its way
    original = EventsBackend.put_events
    state = {"refusals": 0, "refused": 0}
    lock = threading.Lock()

    def put_events(self, events):
        with lock:
            if state["refusals"] > 0 and any(e.get("Source") == "chronicle.Project" for e in events):
                state["refusals"] -= 1
                state["refused"] += 1
                return [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected outage"} for _ in events]
        return original(self, events)

    monkeypatch.setattr(EventsBackend, "put_events", put_events)
    # The stream safety net would publish the events too (and take refusals meant for the workflow): these tests
    # are about the workflow's own path, so it skips what it reads meanwhile.
    monkeypatch.setattr(runtime.streams, "_deliver", lambda consumer, records: None)
    return state


def project_version(runtime, project_id):
    project = graphql(runtime.url, "query Q($id: ID!) { project(id: $id) { version } }", id=project_id)["project"]
    return project and project["version"]


def test_events_the_bus_refused_are_republished_from_the_queue(runtime, refusing_bus):
    refusing_bus["refusals"] = 3  # PublishEvents' first try and its two retries in the workflow
    status, body = http("POST", f"{runtime.url}/commands/CreateProject", {"data": {"name": "Down", "ownerId": "o"}})
    assert status == 200, body
    project_id = body["aggregateId"]
    assert refusing_bus["refused"] == 3
    history = graphql(runtime.url, "query H($id: ID!) { history(aggregateId: $id) { eventType } }", id=project_id)
    assert history["history"] == [{"eventType": "ProjectCreated"}]  # stored whatever the bus did
    assert wait_for(lambda: project_version(runtime, project_id) == 1), "never projected"
    _, health = http("GET", f"{runtime.url}/health")
    assert health["queues"]["processed"] >= 1


def test_an_event_whose_workflow_never_published_it_reaches_the_read_model_through_the_stream(runtime, monkeypatch):
    """The workflow's publish step crashes with an error it does not name and the fallback queue is down too: the
    workflow publishes nothing. The event table's stream (StreamPublisherFunction) still gets it to the bus."""
    import sys

    from moto.sqs.models import SQSBackend

    runtime.dispatcher.wait_idle()

    def crash(*_args, **_kwargs):
        raise SystemError("injected crash of the publish step")

    def no_queue(*_args, **_kwargs):
        raise RuntimeError("injected SQS outage")

    [publish_module] = [m for m in list(sys.modules.values())
                        if (getattr(m, "__file__", "") or "").endswith("functions/publish_events/app.py")]
    monkeypatch.setattr(publish_module, "publish", crash)
    monkeypatch.setattr(SQSBackend, "send_message", no_queue)
    _, before = http("GET", f"{runtime.url}/health")
    status, body = http("POST", f"{runtime.url}/commands/CreateProject", {"data": {"name": "Net", "ownerId": "o"}})
    assert status == 200, body
    project_id = body["aggregateId"]
    assert wait_for(lambda: project_version(runtime, project_id) == 1), "the safety net did not publish it"
    _, after = http("GET", f"{runtime.url}/health")
    assert after["streams"]["delivered"] > before["streams"]["delivered"]


def test_a_binary_attribute_in_the_stream_does_not_stall_the_safety_net(runtime, monkeypatch):
    """A stream record with a binary value (an item some other writer put in the table) reaches the poller as
    bytes: it once made every later batch unmatchable, so the safety net stopped for good."""
    import boto3

    from chronicle import aws

    client = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")
    key = {"aggregateId": {"S": "binary-item"}, "eventSequence": {"N": "0"}}
    table = aws.event_store().event_table
    client.put_item(TableName=table, Item={**key, "blob": {"B": b"\x00\xff"}})
    try:
        test_an_event_whose_workflow_never_published_it_reaches_the_read_model_through_the_stream(runtime, monkeypatch)
    finally:
        client.delete_item(TableName=table, Key=key)
