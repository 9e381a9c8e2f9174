"""GraphQL subscriptions on the local runtime: WebSocket, graphql-transport-ws, fed by the template's
EventBridge -> AppSync rule (ProjectChangedSubscriptionRule) as in AWS. A socket acts as its actor (the upgrade's
X-Actor-Id header or connection_init's payload): by default here the bootstrap admin, who sees everything."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from local_helpers import ADMIN, http
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

pytestmark = pytest.mark.e2e

ON_CHANGED = "subscription S($id: ID) { onProjectChanged(id: $id) { id version eventType } }"
ON_TEMPLATE = "subscription { onTemplateChanged { id } }"  # anyone may follow every template


def ws_url(runtime) -> str:
    return runtime.url.replace("http://", "ws://") + "/graphql"


@contextmanager
def open_socket(runtime, actor: str | None = ADMIN, header: bool = True):
    """A socket acting as `actor` (None: anonymous), named by the upgrade's header or by connection_init."""
    headers = {"X-Actor-Id": actor} if actor and header else None
    with connect(ws_url(runtime), subprotocols=["graphql-transport-ws"], open_timeout=5,
                 additional_headers=headers) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {} if header else {"X-Actor-Id": actor}}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "connection_ack"}
        yield ws


def create(runtime) -> str:
    status, body = http("POST", f"{runtime.url}/commands/CreateProject", {"data": {"name": "S", "ownerId": "o"}})
    assert status == 200, body
    return body["aggregateId"]


def change(runtime, project_id: str, expected: int, actor: str | None = None) -> None:
    status, body = http("POST", f"{runtime.url}/commands/ChangeProjectConfiguration",
                        {"aggregateId": project_id, "expectedVersion": expected, "data": {"set": {"v": expected}}},
                        {"X-Actor-Id": actor} if actor else None)
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
    ([{"type": "connection_init"}, {"id": "1", "type": "subscribe", "payload": {"query": ON_TEMPLATE}},
      {"id": "1", "type": "subscribe", "payload": {"query": ON_TEMPLATE}}], 4409),
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

    project = create(runtime)  # a change the subscriber may see
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
            hub.publish("publishProjectChanged", {"id": project, "version": version, "eventType": "X"})
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


def subscribe(ws, sub_id: str, query: str = ON_CHANGED, **variables) -> dict | None:
    """Subscribe; the error message if refused, else None once the subscription is registered."""
    ws.send(json.dumps({"id": sub_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
    ws.send(json.dumps({"type": "ping"}))
    first = json.loads(ws.recv(timeout=5))
    if first["type"] == "error":
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"
        return first
    assert first == {"type": "pong"}, first
    return None


def quiet(ws) -> bool:
    """Nothing was pushed before a ping's pong."""
    ws.send(json.dumps({"type": "ping"}))
    return json.loads(ws.recv(timeout=5)) == {"type": "pong"}


def project_as(runtime, owner: str, visibility: str = "private") -> str:
    status, body = http("POST", f"{runtime.url}/commands/CreateProject",
                        {"data": {"name": "V", "ownerId": owner, "visibility": visibility}}, {"X-Actor-Id": owner})
    assert status == 200, body
    return body["aggregateId"]


def test_a_stranger_learns_nothing_of_private_projects_through_subscriptions(runtime):
    import uuid

    owner = f"owner-{uuid.uuid4().hex[:8]}"
    private = project_as(runtime, owner)
    for version, actor in enumerate((None, "stranger"), 1):
        with open_socket(runtime, actor) as ws:
            everything = subscribe(ws, "all")  # every project's changes need read on project:*
            assert everything["payload"][0]["extensions"]["errorType"] == "Forbidden", everything
            one = subscribe(ws, "one", id=private)
            nothing = f"nothing-{uuid.uuid4().hex}"
            absent = subscribe(ws, "absent", id=nothing)
            # refused, with the same answer as for a project that does not exist
            assert one["payload"][0]["message"].replace(private, "X") == \
                absent["payload"][0]["message"].replace(nothing, "X"), (one, absent)
            change(runtime, private, version, owner)
            assert quiet(ws)
    # its owner, over connection_init's payload, is told
    with open_socket(runtime, owner, header=False) as ws:
        assert subscribe(ws, "mine", id=private) is None
        change(runtime, private, 3, owner)
        pushed = json.loads(ws.recv(timeout=5))
        assert pushed["payload"]["data"]["onProjectChanged"]["id"] == private


def test_each_change_is_checked_against_the_subscriber_s_rights_when_it_is_pushed(runtime):
    import uuid

    owner = f"owner-{uuid.uuid4().hex[:8]}"
    public = project_as(runtime, owner, "public")
    hub = runtime.server.httpd.graphql.hub
    with open_socket(runtime, None) as ws:
        assert subscribe(ws, "pub", id=public) is None  # a public project: anyone may follow it
        change(runtime, public, 1, owner)
        assert json.loads(ws.recv(timeout=5))["payload"]["data"]["onProjectChanged"]["id"] == public
        # the project is private now (here: its read model says so, as after a change of visibility)
        import boto3

        table = runtime.stack.tables["ProjectReadModelTable"]
        dynamodb = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")
        dynamodb.update_item(TableName=table, Key={"id": {"S": public}}, UpdateExpression="SET visibility = :v",
                             ExpressionAttributeValues={":v": {"S": "private"}})
        assert hub.publish("publishProjectChanged", {"id": public, "version": 9, "eventType": "X"}) == 0
        assert quiet(ws)


def test_queries_over_the_socket_run_as_its_actor(runtime):
    import uuid

    owner = f"owner-{uuid.uuid4().hex[:8]}"
    private = project_as(runtime, owner)
    query = {"query": "query Q($id: ID!) { project(id: $id) { id } }", "variables": {"id": private}}
    for actor, header, seen in ((None, True, None), ("stranger", True, None), (owner, True, {"id": private}),
                                (owner, False, {"id": private})):
        with open_socket(runtime, actor, header) as ws:
            ws.send(json.dumps({"id": "q", "type": "subscribe", "payload": query}))
            assert json.loads(ws.recv(timeout=5))["payload"] == {"data": {"project": seen}}, (actor, header)


def test_user_changes_go_to_the_user_and_readers_of_users_only(runtime):
    import uuid

    me = f"u-{uuid.uuid4().hex[:8]}"
    status, _ = http("POST", f"{runtime.url}/commands/RegisterUser",
                     {"data": {"email": f"{me}@example.com", "displayName": "U"}}, {"X-Actor-Id": me})
    assert status == 200
    on_user = "subscription S($id: ID) { onUserChanged(id: $id) { id eventType } }"
    with open_socket(runtime, None) as anonymous, open_socket(runtime, "stranger") as stranger:
        for ws in (anonymous, stranger):
            assert subscribe(ws, "all", on_user)["type"] == "error"
            assert subscribe(ws, "me", on_user, id=me)["type"] == "error"
    with open_socket(runtime, me) as ws:
        assert subscribe(ws, "all", on_user)["type"] == "error"  # every user's changes: read on user:* only
        assert subscribe(ws, "me", on_user, id=me) is None


def test_an_init_payload_that_is_not_an_object_or_names_no_string_actor_is_refused(runtime):
    for payload in (["x"], {"X-Actor-Id": 5}, {"X-Actor-Id": "a" * 5000}):
        with connect(ws_url(runtime), subprotocols=["graphql-transport-ws"], open_timeout=5) as ws, \
                pytest.raises(ConnectionClosedError) as closed:
            ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 4400


def test_a_socket_without_connection_init_is_closed_with_4408(runtime):
    import time

    websocket = runtime.websocket
    saved, websocket.init_timeout = websocket.init_timeout, 0.5
    try:
        with connect(ws_url(runtime), subprotocols=["graphql-transport-ws"], open_timeout=5) as ws, \
                pytest.raises(ConnectionClosedError) as closed:
            started = time.monotonic()
            ws.recv(timeout=20)
        assert closed.value.rcvd.code == 4408 and time.monotonic() - started < 20
    finally:
        websocket.init_timeout = saved


def test_a_local_token_names_the_sockets_actor_as_on_http(runtime):
    """Issue 20: the socket takes a local token (the upgrade's Authorization, or connection_init's
    {"Authorization": token}) as the HTTP routes do; a bad one or a reserved actor id is refused."""
    import uuid

    from chronicle.local import tokens

    owner = f"owner-{uuid.uuid4().hex[:8]}"
    private = project_as(runtime, owner)
    query = {"query": "query Q($id: ID!) { project(id: $id) { id } }", "variables": {"id": private}}
    token = runtime.token(owner)
    for headers, payload in (({"Authorization": f"Bearer {token}"}, {}), (None, {"Authorization": token})):
        with connect(ws_url(runtime), subprotocols=["graphql-transport-ws"], open_timeout=5,
                     additional_headers=headers) as ws:
            ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            assert json.loads(ws.recv(timeout=5)) == {"type": "connection_ack"}
            ws.send(json.dumps({"id": "q", "type": "subscribe", "payload": query}))
            assert json.loads(ws.recv(timeout=5))["payload"] == {"data": {"project": {"id": private}}}, headers
    forged = tokens.issue(b"k" * 32, owner)
    for payload in ({"Authorization": forged}, {"Authorization": 5}, {"X-Actor-Id": "project-x"}):
        with connect(ws_url(runtime), subprotocols=["graphql-transport-ws"], open_timeout=5) as ws, \
                pytest.raises(ConnectionClosedError) as closed:
            ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 4403, payload
    for headers in ({"Authorization": forged}, {"X-Actor-Id": "template-1"}):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(runtime), subprotocols=["graphql-transport-ws"], open_timeout=5, additional_headers=headers)
        assert refused.value.response.status_code in (401, 403), headers
