"""Issue 20: a web page of another origin cannot drive the local API from the developer's browser (a text/plain
POST needs no preflight; a WebSocket none either). Requests without an Origin (curl, SDKs) and the server's own
origin are served; `chronicle local --cors-origin ORIGIN` adds one."""

from __future__ import annotations

import json
import uuid

import pytest
from local_helpers import http
from test_local_http_edges import SHAPE, raw

pytestmark = pytest.mark.e2e

EVIL = "http://evil.example"


def post(runtime, path: str, body: dict, headers: dict[str, str]) -> tuple[int, dict]:
    return http("POST", f"{runtime.url}{path}", json.dumps(body), {"content-type": "text/plain", **headers})


@pytest.mark.parametrize("path, body", [
    ("/commands/CreateProject", {"data": {"name": "Forged", "ownerId": "victim"}}),
    ("/iam/commands/CreateProject", {"data": {"name": "Forged", "ownerId": "victim"}}),
    ("/graphql", {"query": "{ __typename }"}),
    ("/console/api/executions", {}),
])
def test_a_foreign_origin_is_403_on_every_route_that_acts_or_reads(runtime, path, body):
    for origin in (EVIL, "null", f"{runtime.url}.evil.example"):
        status, answer = post(runtime, path, body, {"Origin": origin, "X-Actor-Id": "e2e-admin"})
        assert status == 403 and set(answer) == SHAPE and answer["error"] == "Forbidden", answer
        assert "--cors-origin" in answer["message"]
    status, answer = http("GET", f"{runtime.url}/console/api/executions", headers={"Origin": EVIL})
    assert status == 403, answer
    assert http("GET", f"{runtime.url}/health", headers={"Origin": EVIL})[0] == 200  # nothing to take there


def test_no_origin_and_the_servers_own_origin_are_served(runtime):
    name = f"own-{uuid.uuid4().hex[:8]}"
    port = runtime.url.rsplit(":", 1)[1]
    for headers in ({}, {"Origin": runtime.url}, {"Origin": f"http://localhost:{port}"}):
        status, answer = post(runtime, "/commands/CreateProject", {"data": {"name": name, "ownerId": "o"}},
                              {"X-Actor-Id": "o", **headers})
        assert status == 200, answer
        assert answer["aggregateId"].startswith("project-")
    assert post(runtime, "/graphql", {"query": "{ __typename }"}, {"Origin": runtime.url})[0] == 200


def test_a_foreign_origins_websocket_upgrade_is_refused(runtime):
    upgrade = ("GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: graphql-transport-ws\r\nOrigin: {origin}\r\n\r\n")
    status, _, body = raw(runtime, upgrade.format(origin=EVIL).encode())
    assert status == 403 and body["error"] == "Forbidden", body
    from websockets.sync.client import connect

    url = runtime.url.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=["graphql-transport-ws"], origin=runtime.url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"


def test_cors_origin_allows_a_listed_origin(runtime):
    httpd = runtime.server.httpd
    saved = httpd.cors_origins
    httpd.cors_origins = ("https://app.example:8080",)
    try:
        status, answer = post(runtime, "/graphql", {"query": "{ __typename }"},
                              {"Origin": "https://app.example:8080/"})
        assert status == 200, answer
        assert post(runtime, "/graphql", {"query": "{ __typename }"}, {"Origin": EVIL})[0] == 403
    finally:
        httpd.cors_origins = saved
