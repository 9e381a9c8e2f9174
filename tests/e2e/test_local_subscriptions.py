"""GraphQL subscriptions on the local runtime: WebSocket, graphql-transport-ws, fed by the template's
EventBridge -> AppSync rule (ProjectChangedSubscriptionRule) as in AWS."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from local_helpers import http
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

pytestmark = pytest.mark.e2e

ON_CHANGED = "subscription S($id: ID) { onProjectChanged(id: $id) { id version eventType } }"


def ws_url(runtime) -> str:
    return runtime.url.replace("http://", "ws://") + "/graphql"


@contextmanager
def open_socket(runtime):
    with connect(ws_url(runtime), subprotocols=["graphql-transport-ws"], open_timeout=5) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "connection_ack"}
        yield ws


def create(runtime) -> str:
    status, body = http("POST", f"{runtime.url}/commands/CreateProject", {"data": {"name": "S", "ownerId": "o"}})
    assert status == 200, body
    return body["aggregateId"]


def change(runtime, project_id: str, expected: int) -> None:
    status, body = http("POST", f"{runtime.url}/commands/ChangeProjectConfiguration",
                        {"aggregateId": project_id, "expectedVersion": expected, "data": {"set": {"v": expected}}})
    assert status == 200, body


def test_subscriber_gets_each_change_of_its_project_only(runtime):
    mine, other = create(runtime), create(runtime)
    with open_socket(runtime) as ws:
        ws.send(json.dumps({"id": "a", "type": "subscribe",
                            "payload": {"query": ON_CHANGED, "variables": {"id": mine}}}))
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}  # the subscription is registered by now
        change(runtime, other, 1)
        change(runtime, mine, 1)
        change(runtime, mine, 2)
        received = [json.loads(ws.recv(timeout=5)) for _ in range(2)]
        assert received == [
            {"id": "a", "type": "next", "payload": {"data": {"onProjectChanged": {
                "id": mine, "version": version, "eventType": "ProjectConfigurationChanged"}}}}
            for version in (2, 3)]
        # the push comes after the projection: re-querying shows the new version
        query = {"query": "query Q($id: ID!) { project(id: $id) { version } }", "variables": {"id": mine}}
        ws.send(json.dumps({"id": "q", "type": "subscribe", "payload": query}))
        assert json.loads(ws.recv(timeout=5))["payload"] == {"data": {"project": {"version": 3}}}
        assert json.loads(ws.recv(timeout=5)) == {"id": "q", "type": "complete"}


def test_subscription_without_id_gets_every_project_and_complete_stops_it(runtime):
    with open_socket(runtime) as ws:
        ws.send(json.dumps({"id": "all", "type": "subscribe", "payload": {"query": ON_CHANGED}}))
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"
        project = create(runtime)
        pushed = json.loads(ws.recv(timeout=5))
        assert pushed["payload"]["data"]["onProjectChanged"] == {"id": project, "version": 1,
                                                                 "eventType": "ProjectCreated"}
        ws.send(json.dumps({"id": "all", "type": "complete"}))
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"
        create(runtime)
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"  # nothing was pushed in between


def test_invalid_documents_and_variables_are_errors_not_disconnects(runtime):
    with open_socket(runtime) as ws:
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "subscription { nope }"}}))
        error = json.loads(ws.recv(timeout=5))
        assert error["type"] == "error" and "nope" in error["payload"][0]["message"]
        ws.send(json.dumps({"id": "2", "type": "subscribe",
                            "payload": {"query": ON_CHANGED, "variables": {"id": {"not": "an id"}}}}))
        assert json.loads(ws.recv(timeout=5))["type"] == "error"
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"


@pytest.mark.parametrize("messages, code", [
    ([{"id": "1", "type": "subscribe", "payload": {"query": ON_CHANGED}}], 4401),  # before connection_init
    (["not json"], 4400),
    (['{"type": "connection_init", "payload": ' + "[" * 5000 + "]" * 5000 + "}"], 4400),  # nested past 64 levels
    (['{"type": "connection_init", "payload": {"n": NaN}}'], 4400),
    ([{"type": "connection_init"}, {"type": "connection_init"}], 4429),
    ([{"type": "connection_init"}, {"id": "1", "type": "subscribe", "payload": {"query": ON_CHANGED}},
      {"id": "1", "type": "subscribe", "payload": {"query": ON_CHANGED}}], 4409),
])
def test_protocol_violations_close_with_the_protocol_codes(runtime, messages, code):
    with connect(ws_url(runtime), subprotocols=["graphql-transport-ws"], open_timeout=5) as ws, \
            pytest.raises(ConnectionClosedError) as closed:
        for message in messages:
            ws.send(message if isinstance(message, str) else json.dumps(message))
        while True:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == code


def test_a_socket_without_the_subprotocol_is_refused(runtime):
    with pytest.raises(InvalidStatus) as refused, connect(ws_url(runtime), open_timeout=5):
        pass
    assert refused.value.response.status_code == 400


def test_a_client_that_stops_reading_is_dropped_without_stalling_the_publisher(runtime):
    import queue
    import threading
    import time

    with open_socket(runtime) as ws:
        ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": {"query": ON_CHANGED}}))
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"
        [connection] = [c for c in runtime.websocket._connections if c.subscriptions]
        stuck = threading.Event()
        connection._flush = lambda: stuck.wait(10)  # the socket stops taking data: the writer blocks
        connection._outbox = queue.Queue(maxsize=2)
        hub = runtime.server.httpd.graphql.hub
        started = time.monotonic()
        for version in range(1, 8):
            hub.publish("publishProjectChanged", {"id": "p", "version": version, "eventType": "X"})
        assert time.monotonic() - started < 5, "publishing waited for a client that does not read"  # stuck: 10 s
        assert connection._done.is_set()
        stuck.set()
        deadline = time.monotonic() + 5
        while connection.subscriptions and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not connection.subscriptions  # the reader saw the cut and unsubscribed


def test_a_client_cannot_publish_change_notifications_over_the_socket_either(runtime):
    with open_socket(runtime) as ws:
        ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": {"query": ON_CHANGED}}))
        ws.send(json.dumps({"id": "m", "type": "subscribe", "payload": {
            "query": 'mutation { publishProjectChanged(id: "p", version: 1, eventType: "Fake") { id } }'}}))
        error = json.loads(ws.recv(timeout=5))
        assert error["type"] == "error" and "Not Authorized" in error["payload"][0]["message"], error
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"  # and no fake notification came before it
