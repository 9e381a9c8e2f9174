"""The local HTTP server's connection handling (chronicle.local.server), on a stub command runner: no moto.

Idle and half-sent connections are cut after the idle timeout; connections beyond the cap get 503 at once; the
listen backlog is not the standard library's 5; stop() lets a running request finish (and answer 200) while a
request arriving after it began is refused with 503."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from chronicle.local import server as local_server


class SlowRunner:
    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def run(self, command_type, body, actor):
        self.started.set()
        self.release.wait(10)
        return 200, {"ok": command_type}, f"arn:aws:states:us-east-1:1:execution:x:{command_type}"


@pytest.fixture
def serve():
    servers = []

    def start(**kwargs):
        runner = SlowRunner()
        srv = local_server.LocalServer("127.0.0.1", 0, runner, None, lambda: {"status": "ok"}, **kwargs)
        srv.start()
        servers.append((srv, runner))
        return srv, runner

    yield start
    for srv, runner in servers:
        runner.release.set()
        srv.stop(drain_timeout=2)


def connect(srv) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    return sock


def request(path: str = "/commands/X", body: bytes = b"{}", keep_alive: bool = True) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n").encode() + body


def read_response(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    length = int([line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")][0])
    while len(rest) < length:
        rest += sock.recv(65536)
    return status, json.loads(rest[:length])


def test_the_backlog_fits_many_clients():
    assert local_server._HTTPServer.request_queue_size >= 128


def test_a_half_sent_request_is_answered_408_and_closed(serve):
    srv, _ = serve(idle_timeout=0.5)
    sock = connect(srv)
    sock.sendall(request(body=b'{"data": {}}')[:-5])  # the body stops short
    t = time.monotonic()
    status, body = read_response(sock)
    assert (status, body["error"]) == (408, "RequestTimeout")
    assert time.monotonic() - t < 5
    assert sock.recv(10) == b""  # closed


def test_an_idle_connection_is_closed(serve):
    srv, _ = serve(idle_timeout=0.5)
    sock = connect(srv)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")  # one request, then silence on a kept-alive connection
    assert read_response(sock)[0] == 200
    sock.settimeout(5)
    assert sock.recv(10) == b""
    silent = connect(srv)  # nothing at all, not even a request line
    silent.settimeout(5)
    assert silent.recv(10) == b""


def test_connections_beyond_the_cap_get_503_at_once(serve):
    srv, _ = serve(max_connections=2)
    held = [connect(srv) for _ in range(2)]
    for sock in held:  # make sure both are being served (their threads hold the slots)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock)[0] == 200
    extra = connect(srv)
    status, body = read_response(extra)
    assert (status, body["error"]) == (503, "ServiceUnavailable")
    held[0].close()
    time.sleep(0.3)
    again = connect(srv)
    again.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(again)[0] == 200


def test_stop_finishes_running_requests_and_refuses_new_ones(serve):
    srv, runner = serve()
    running, kept = connect(srv), connect(srv)
    kept.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(kept)[0] == 200  # a kept-alive connection, idle now
    running.sendall(request())
    assert runner.started.wait(5)
    stopped = threading.Thread(target=srv.stop, kwargs={"drain_timeout": 10})
    stopped.start()
    time.sleep(0.3)
    assert stopped.is_alive()  # waiting for the running request
    kept.sendall(request())
    status, body = read_response(kept)
    assert (status, body["error"]) == (503, "ServiceUnavailable")
    with pytest.raises(ConnectionRefusedError):  # no longer accepting
        socket.create_connection(("127.0.0.1", srv.port), timeout=2)
    runner.release.set()
    assert read_response(running) == (200, {"ok": "X"})
    stopped.join(5)
    assert not stopped.is_alive()


def test_websockets_have_their_own_cap_and_never_starve_http(serve):
    """Upgraded connections leave the HTTP pool for their own: sockets held open (e.g. never sending
    connection_init) cannot make /health or commands answer 503."""
    srv, _ = serve(max_connections=2, max_websockets=2)
    release = threading.Event()
    upgraded = []

    def hold(handler):  # stands in for the graphql-transport-ws handler: keeps the connection
        upgraded.append(handler)
        release.wait(10)

    srv.websocket_handler = hold
    upgrade = (b"GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    held = [connect(srv) for _ in range(2)]
    for sock in held:
        sock.sendall(upgrade)
    deadline = time.monotonic() + 5
    while len(upgraded) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(upgraded) == 2
    extra = connect(srv)
    extra.sendall(upgrade)
    status, body = read_response(extra)
    assert status == 503 and "WebSocket" in body["message"]
    for _ in range(2):  # both HTTP slots are free: the sockets do not hold them
        sock = connect(srv)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock)[0] == 200
    release.set()
