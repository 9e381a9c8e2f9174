"""The local server's answers to malformed or hostile HTTP: always the reference (docs/reference)'s JSON error shape, never HTML, never a
500, and a refused request stores nothing."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
from local_helpers import http

pytestmark = pytest.mark.e2e

SHAPE = {"error", "message", "details"}


def raw(runtime, data: bytes, timeout: float = 10) -> tuple[int, dict[str, str], dict]:
    """Send bytes as they are; the status, headers and JSON body of the first answer."""
    host, port = runtime.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:  # the server may answer and close before it read everything we send
            pass
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without an answer: {received!r}"
            received += chunk
        head, _, rest = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(lines[0].split()[1]), headers, json.loads(rest[:length])


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def event_count(runtime) -> int:
    client = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")
    return client.scan(TableName=runtime.stack.tables["EventStoreTable"], Select="COUNT")["Count"]


def test_bad_chunked_encoding_is_a_400(runtime):
    body = b"zz\r\nhello\r\n0\r\n\r\n"
    status, headers, answer = raw(runtime, request("POST", "/commands/CreateProject", body,
                                                   {"Transfer-Encoding": "chunked"}))
    assert (status, answer["error"]) == (400, "ValidationError") and set(answer) == SHAPE
    assert headers["content-type"] == "application/json"


def test_good_chunked_encoding_still_works(runtime):
    payload = json.dumps({"data": {"name": "Chunked", "ownerId": "alice"}}).encode()
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    status, _, answer = raw(runtime, request("POST", "/commands/CreateProject", body,
                                             {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}))
    assert status == 200, answer


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PUT", "DELETE", "BREW"])
@pytest.mark.parametrize("path,allow", [("/commands/CreateProject", "POST"), ("/graphql", "POST"),
                                        ("/health", "GET, HEAD")])
def test_other_methods_are_a_json_405_with_allow(runtime, method, path, allow):
    status, headers, answer = raw(runtime, request(method, path))
    assert (status, answer["error"], headers["allow"]) == (405, "MethodNotAllowed", allow)
    assert set(answer) == SHAPE


def test_content_length_over_the_limit_is_refused_at_the_header(runtime):
    # 11 MB announced, nothing sent: the answer comes without waiting for a body that never arrives (the socket
    # timeout fails the test otherwise)
    status, headers, answer = raw(runtime, request("POST", "/commands/CreateProject",
                                                   headers={"Content-Length": str(11 * 1024 * 1024)}), timeout=10)
    assert (status, answer["error"]) == (413, "PayloadTooLarge")
    assert answer["details"] == [{"bytes": 11 * 1024 * 1024, "limit": 10 * 1024 * 1024}]
    assert headers["connection"] == "close"


def everything(runtime, data: bytes) -> bytes:
    """All the server sends until it closes the connection."""
    host, port = runtime.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_one_answer_per_refused_request_even_on_an_unknown_path(runtime):
    answers = everything(runtime, request("POST", "/nowhere", headers={"Content-Length": str(11 << 20)}))
    assert answers.startswith(b"HTTP/1.1 413 ") and answers.count(b"HTTP/1.1 ") == 1, answers
    answers = everything(runtime, request("POST", "/nowhere", b"zz\r\n", {"Transfer-Encoding": "chunked"}))
    assert answers.startswith(b"HTTP/1.1 400 ") and answers.count(b"HTTP/1.1 ") == 1, answers


def test_expect_100_continue_over_the_limit_is_refused_before_the_body(runtime):
    status, _, answer = raw(runtime, request("POST", "/commands/CreateProject", headers={
        "Content-Length": str(50 * 1024 * 1024), "Expect": "100-continue"}))
    assert (status, answer["error"]) == (413, "PayloadTooLarge")


def test_a_uri_or_a_header_too_long_is_json(runtime):
    status, _, answer = raw(runtime, request("GET", "/" + "a" * 70_000))
    assert (status, set(answer)) == (414, SHAPE)
    status, _, answer = raw(runtime, request("GET", "/health", headers={"X-Big": "b" * 70_000}))
    assert (status, set(answer)) == (431, SHAPE)
    status, _, answer = raw(runtime, request("GET", "/health", headers={f"X-{i}": "v" for i in range(150)}))
    assert (status, set(answer)) == (431, SHAPE)


def test_a_bad_request_line_and_content_length_are_json(runtime):
    status, _, answer = raw(runtime, b"GARBAGE\r\n\r\n")
    assert (status, set(answer)) == (400, SHAPE)
    status, _, answer = raw(runtime, request("POST", "/commands/CreateProject", headers={"Content-Length": "-5"}))
    assert (status, answer["error"]) == (400, "ValidationError")


def test_hostile_bodies_are_refused_and_store_nothing(runtime):
    before = event_count(runtime)
    url = f"{runtime.url}/commands/CreateProject"
    for body in (b'{"data": {"name": "x", "ownerId": "a", "description": NaN}}',
                 b'{"data": {"name": "x", "ownerId": "a"}, "expectedVersion": Infinity}',
                 b'{"data": {"name": "x\xff\xfe", "ownerId": "a"}}',
                 b'{"data": {"name": "x", "ownerId": "a", "name": "y"}}',
                 b'{"data": {"name": "x", "ownerId": "a", "description": ' + b"[" * 500 + b"]" * 500 + b"}}",
                 b'{"data": {"name": "   ", "ownerId": "a"}}'):
        status, answer = http("POST", url, body)
        assert (status, answer["error"], set(answer)) == (400, "ValidationError", SHAPE), (body[:60], answer)
    status, answer = http("POST", url, {"data": {"name": "x", "ownerId": "a", "description": "ñ" * 45_000}})
    assert (status, answer["error"]) == (413, "PayloadTooLarge"), answer
    assert set(answer["details"][0]) == {"bytes", "limit"}
    body = b'{"data": {"name": "x", "ownerId": "a"}}'
    status, _, answer = raw(runtime, request("POST", "/commands/CreateProject", body, {
        "Content-Length": str(len(body)), "X-Actor-Id": "a" * 300_000}))
    assert status == 431 and set(answer) == SHAPE, answer
    assert event_count(runtime) == before


def test_a_60_kb_actor_id_is_not_a_500(runtime):
    status, answer = http("POST", f"{runtime.url}/commands/CreateProject", {"data": {"name": "x", "ownerId": "a"}},
                          headers={"X-Actor-Id": "a" * 60_000})
    assert (status, answer["error"], answer["details"][0]["path"]) == (400, "ValidationError", "actorId"), answer


def test_graphql_nested_too_deep_is_a_400(runtime):
    deep = b'{"query": "{ __typename }", "variables": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    status, answer = http("POST", f"{runtime.url}/graphql", deep)
    assert status == 400 and "64 levels" in answer["errors"][0]["message"], answer


def test_idle_websockets_never_take_the_http_slots(runtime):
    """Upgraded sockets that never send connection_init live in their own pool (here made 2 wide): the next upgrade
    is refused with 503 while /health and commands still answer; the sockets are closed with 4408 in time."""
    import threading
    import time

    from websockets.exceptions import ConnectionClosedError
    from websockets.sync.client import connect

    httpd, websocket = runtime.server.httpd, runtime.websocket
    saved = httpd.websocket_slots, websocket.init_timeout
    httpd.websocket_slots, websocket.init_timeout = threading.BoundedSemaphore(2), 3.0
    url = runtime.url.replace("http://", "ws://") + "/graphql"
    try:
        idle = [connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5) for _ in range(2)]
        status, body = raw(runtime, b"GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade"
                                    b"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
                                    b"\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n")[0::2]
        assert status == 503 and set(body) == SHAPE, body
        assert http("GET", f"{runtime.url}/health")[0] == 200
        assert http("POST", f"{runtime.url}/commands/CreateProject", {"data": {"name": "H", "ownerId": "o"}})[0] == 200
        for ws in idle:
            with pytest.raises(ConnectionClosedError) as closed:
                ws.recv(timeout=20)
            assert closed.value.rcvd.code == 4408
            ws.close()
        deadline = time.monotonic() + 10
        while (websocket._connections or httpd._websockets) and time.monotonic() < deadline:
            time.sleep(0.05)  # their slots go back to this pool, not to the one restored below
        time.sleep(0.2)
    finally:
        httpd.websocket_slots, websocket.init_timeout = saved
