"""The local HTTP API: the command API (docs/reference/errors.md), ``/graphql`` (section 5) and ``/health``.

``POST /commands/{CommandType}`` does what API Gateway's StartSyncExecution integration does in AWS: build the
state machine input of docs/architecture.md, run ``<stack>-command-<CommandType>`` and map the result — moto has no
StartSyncExecution, so the execution is started and polled until it leaves RUNNING. A FAILED execution's
``error`` is the documented error code (the Fail state's ``Error``) and its ``cause`` the Lambda error payload, from
which :func:`chronicle.errors.body_from_cause` takes the client body.

After a successful command the server waits (briefly, bounded) until EventBridge has delivered the new events
to the projections, so a query right after a command sees its effect locally. In AWS the read side is
eventually consistent; clients must not rely on this.

Durability: a command is answered only after ``before_answer`` (the runtime's journal sync) returned, so whatever
it reports is on disk; once the runtime stopped syncing it is answered 503 instead.

Connections: the listen backlog is ``REQUEST_QUEUE_SIZE``; at most ``MAX_CONNECTIONS`` are served at once (one
thread each; beyond that a connection gets 503 and is closed); a connection that sends nothing for
``IDLE_TIMEOUT`` seconds, in its headers, its body or between keep-alive requests, is closed (408 when a body
stalled). :meth:`LocalServer.stop` stops accepting, lets running requests finish, and answers 503 to requests
that arrive on kept-alive connections after that.

Subscriptions (graphql-transport-ws over WebSocket on ``/graphql``) plug in through
:attr:`LocalServer.websocket_handler` (the runtime sets ``websocket.GraphQLWebSocket``); without one, an Upgrade
request gets 501.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from collections.abc import Callable

from chronicle import strictjson
from chronicle.commands import MAX_EXECUTION_INPUT_BYTES, execution_input_size, too_large
from chronicle.errors import HTTP_STATUS, body_from_cause

from . import fastpath
from .journal import JournalClosed

log = logging.getLogger("chronicle.local.server")

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
REQUEST_QUEUE_SIZE = 512  # listen backlog (the standard library's 5 overflowed under 16 clients)
MAX_CONNECTIONS = 256  # threads serving connections at once
IDLE_TIMEOUT = 20.0  # seconds a connection may stay silent (headers, body, keep-alive) before it is closed
_COMMAND_PATH = re.compile(r"^/commands/([^/?#]+)/?$")
_COMMAND_TYPE = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}$")  # the same pattern as api/openapi.yaml


def command_state_machine_name(stack_name: str, command_type: str) -> str:
    """The name template.yaml gives a command's state machine; api/openapi.yaml builds the same ARN."""
    return f"{stack_name}-command-{command_type}"


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details or []}


class CommandRunner:
    """Runs one command's state machine to completion (StartExecution + DescribeExecution polling)."""

    def __init__(self, session: Any, state_machines: dict[str, str], stack_name: str = "chronicle",
                 timeout: float = 120.0, after_success: Callable[[], Any] | None = None) -> None:
        self.sfn = session.client("stepfunctions")
        self.state_machines = state_machines
        self.stack_name = stack_name
        self.timeout = timeout
        self.after_success = after_success

    def state_machine_arn(self, command_type: str) -> str | None:
        return self.state_machines.get(command_state_machine_name(self.stack_name, command_type))

    def run(self, command_type: str, body: str, actor_id: str) -> tuple[int, dict[str, Any]]:
        arn = self.state_machine_arn(command_type) if _COMMAND_TYPE.match(command_type) else None
        if arn is None:
            return 404, error_body("UnknownCommand", f"Unknown command type {command_type!r}.")
        request_id = str(uuid.uuid4())
        payload = {"commandType": command_type, "body": body, "actorId": actor_id, "requestId": request_id}
        execution_input = json.dumps(payload)
        size = execution_input_size(payload)  # what Step Functions would get from API Gateway's template in AWS
        if size > MAX_EXECUTION_INPUT_BYTES:  # Step Functions would refuse to start it (InvalidExecutionInput)
            return 413, too_large("command (JSON-escaped, as Step Functions carries it)", size,
                                  MAX_EXECUTION_INPUT_BYTES).body()
        execution_arn = arn.replace(":stateMachine:", ":execution:", 1) + f":{request_id}"
        finished = fastpath.watch(execution_arn)  # set the moment it ends; None: poll
        try:
            execution = self.sfn.start_execution(stateMachineArn=arn, name=request_id,
                                                 input=execution_input)["executionArn"]
            deadline = time.monotonic() + self.timeout
            delay = 0.005
            while True:
                if finished is not None:
                    finished.wait(max(0.0, min(1.0, deadline - time.monotonic())))
                desc = self.sfn.describe_execution(executionArn=execution)
                if desc["status"] != "RUNNING":
                    break
                if time.monotonic() > deadline:
                    return 504, error_body("Timeout", f"The command did not finish within {self.timeout:g} s.",
                                           [{"executionArn": execution}])
                if finished is None:
                    time.sleep(delay)
                    delay = min(delay * 1.5, 0.05)
        finally:
            fastpath.unwatch(execution_arn)
        if desc["status"] == "SUCCEEDED":
            if self.after_success is not None:
                self.after_success()
            try:
                return 200, json.loads(desc.get("output") or "null")
            except ValueError:
                return 500, error_body("InternalError", "The command returned a non-JSON result.")
        error = desc.get("error") or desc["status"]
        body_out = body_from_cause(desc.get("cause"), error)
        return HTTP_STATUS.get(body_out["error"], 500), body_out


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "chronicle-local"
    timeout = IDLE_TIMEOUT  # StreamRequestHandler sets it on the socket: every read and write is bounded

    def setup(self) -> None:
        self.timeout = self.server.idle_timeout
        super().setup()

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

    # -- helpers ---------------------------------------------------------------------------------------
    def _send_json(self, status: int, body: Any, extra_headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _refuse(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        """Answer and close: the rest of the request (a body we will not read) cannot be parsed any more."""
        self.close_connection = True
        self._send_json(status, error_body(code, message, details), {"connection": "close"})

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 400/413 (bad framing, over the limit)."""
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():  # it wins over Content-Length
            return self._read_chunked()
        declared = self.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                self._refuse(400, "ValidationError", f"Content-Length {declared[:40]!r} is not a byte count.")
                return None
            length = int(declared)
            if length > MAX_BODY:  # refused at the header: the body is never waited for
                self._refuse(413, "PayloadTooLarge", f"The request body is {length} bytes, over the limit of "
                                                     f"{MAX_BODY} bytes.", [{"bytes": length, "limit": MAX_BODY}])
                self._discard_unread()
                return None
            return self.rfile.read(length) if length else b""
        return b""

    def _read_chunked(self) -> bytes | None:
        chunks, size = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                n = int(line.split(b";")[0].strip(), 16)
                if n < 0:
                    raise ValueError(n)
            except ValueError:
                self._refuse(400, "ValidationError", "Bad chunked encoding: a chunk size is not a hex number.")
                return None
            if n == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(chunks)
            size += n
            if size > MAX_BODY:
                self._refuse(413, "PayloadTooLarge", f"The request body is over the limit of {MAX_BODY} bytes.",
                             [{"bytes": size, "limit": MAX_BODY}])
                self._discard_unread()
                return None
            chunk = self.rfile.read(n)
            if len(chunk) != n or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                self._refuse(400, "ValidationError", "Bad chunked encoding: a chunk is shorter than its size.")
                return None
            chunks.append(chunk)

    def _discard_unread(self, seconds: float = 1.0) -> None:
        """After refusing a body: read briefly what the client still sends, so that closing the socket does not
        reset the connection before the client reads the answer (the body itself is never waited for)."""
        try:
            self.wfile.flush()
            self.connection.settimeout(0.2)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and self.connection.recv(1 << 16):
                pass
        except OSError:
            pass

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue`` (curl sends it for big bodies): refuse an oversized body before it is sent."""
        declared = self.headers.get("content-length") or ""
        if declared.strip().isdigit() and int(declared) > MAX_BODY:
            self._refuse(413, "PayloadTooLarge", f"The request body is {declared.strip()} bytes, over the limit of "
                                                 f"{MAX_BODY} bytes.", [{"bytes": int(declared), "limit": MAX_BODY}])
            return False
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, URI or header too long, unknown method): the reference (docs/reference)'s JSON
        error shape instead of its HTML page."""
        if code == 501:  # a method without a do_X: the route's 405 (with Allow), as for PUT or DELETE
            self._safe(self._other)
            return
        codes = {413: "PayloadTooLarge", 414: "UriTooLong", 431: "HeadersTooLarge"}
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Bad request"
        self.close_connection = True
        self.request_version = self.protocol_version  # a request line it could not read: answer with headers
        try:
            self._send_json(code, error_body(codes.get(code, "ValidationError"), message or phrase),
                            {"connection": "close"})
        except OSError:
            pass

    def _safe(self, fn: Callable[[], None]) -> None:
        server = self.server
        with server.activity:
            if server.closing:
                refuse = True
            else:
                refuse = False
                server.running += 1
        if refuse:  # the runtime is stopping: nothing new starts
            self.close_connection = True
            try:
                self._send_json(503, error_body("ServiceUnavailable", "The local runtime is stopping."),
                                {"connection": "close"})
            except OSError:
                pass
            return
        try:
            fn()
        except (BrokenPipeError, ConnectionResetError):
            pass
        except TimeoutError:  # the client stopped sending in the middle of its request
            self.close_connection = True
            try:
                self._send_json(408, error_body("RequestTimeout",
                                                f"Nothing received for {self.server.idle_timeout:g} s."),
                                {"connection": "close"})
            except OSError:
                pass
        except Exception:  # noqa: BLE001 - never a traceback to the client
            log.exception("request %s %s failed", self.command, self.path)
            try:
                self._send_json(500, error_body("InternalError", "The local runtime failed; see its log."))
            except OSError:
                pass
        finally:
            with server.activity:
                server.running -= 1
                server.activity.notify_all()

    # -- routes ----------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        self._safe(self._get)

    def do_HEAD(self) -> None:  # noqa: N802
        self._safe(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._safe(self._post)

    def do_PUT(self) -> None:  # noqa: N802
        self._safe(self._other)

    def do_DELETE(self) -> None:  # noqa: N802
        self._safe(self._other)

    def do_PATCH(self) -> None:  # noqa: N802
        self._safe(self._other)

    def do_OPTIONS(self) -> None:  # noqa: N802 - no CORS preflight: the API is called by servers and the CLI
        self._safe(self._other)

    def do_TRACE(self) -> None:  # noqa: N802
        self._safe(self._other)

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _get(self) -> None:
        path = self._path()
        if path in ("/health", "/health/"):
            self._send_json(200, self.server.health())
        elif path == "/graphql" and self.headers.get("upgrade", "").lower() == "websocket":
            handler = self.server.websocket_handler
            if handler is None:
                self._send_json(501, error_body("NotImplemented", "GraphQL subscriptions over WebSocket are "
                                                                  "not served by this server (no websocket handler)."))
            else:
                self.connection.settimeout(None)  # a subscription may stay quiet for long; the protocol has pings
                handler(self)
        elif path == "/graphql" or _COMMAND_PATH.match(path):
            self._send_json(405, error_body("MethodNotAllowed", f"Use POST {path}."), {"allow": "POST"})
        else:
            self._not_found()

    def _other(self) -> None:
        self.close_connection = True  # a body may follow that we do not read
        path = self._path()
        allowed = "POST" if path == "/graphql" or _COMMAND_PATH.match(path) else \
            "GET, HEAD" if path in ("/health", "/health/") else None
        if allowed:
            self._send_json(405, error_body("MethodNotAllowed", f"{self.command} is not allowed on {path}: use "
                                                                f"{allowed}."), {"allow": allowed})
        else:
            self._not_found()

    def _not_found(self) -> None:
        self._send_json(404, error_body("NotFound", f"No route for {self.command} {self._path()}."))

    def _post(self) -> None:
        path = self._path()
        match = _COMMAND_PATH.match(path)
        if not match and path != "/graphql":
            if self._read_body() is not None:  # else it answered already (bad framing, too large)
                self._not_found()
            return
        raw = self._read_body()
        if raw is None:
            return
        if match:
            command_type = match.group(1)
            actor = (self.headers.get("x-actor-id") or "").strip() or "anonymous"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:  # the execution input is JSON text: it cannot carry these bytes
                self._send_json(400, error_body("ValidationError", "The request body is not UTF-8.", [
                    {"path": "$", "message": f"byte {error.start}: {error.reason}"}]))
                return
            status, body = self.server.runner.run(command_type, text, actor)
            if self.server.before_answer is not None:
                try:
                    self.server.before_answer()  # what the answer reports is on disk before it leaves
                except JournalClosed:
                    self.close_connection = True
                    status, body = 503, error_body("ServiceUnavailable", "The local runtime stopped before this "
                                                   "command's outcome was saved; retry it with the same commandId.")
            self._send_json(status, body)
        else:
            self._graphql(raw)

    def _graphql(self, raw: bytes) -> None:
        try:
            request = strictjson.loads(raw)
            if not isinstance(request, dict) or not isinstance(request.get("query"), str):
                raise ValueError("expected a JSON object with a string 'query'")
            variables = request.get("variables") or {}
            if not isinstance(variables, dict):
                raise ValueError("'variables' must be an object")
            operation = request.get("operationName")
            if operation is not None and not isinstance(operation, str):
                raise ValueError("'operationName' must be a string")
        except ValueError as exc:
            self._send_json(400, {"data": None, "errors": [{"message": f"Bad GraphQL request: {exc}"}]})
            return
        graphql = self.server.graphql
        if graphql is None:
            self._send_json(503, {"data": None, "errors": [{"message": "No GraphQL schema (api/schema.graphql)."}]})
            return
        actor = (self.headers.get("x-actor-id") or "").strip() or None  # as on the command API
        self._send_json(200, graphql.execute(request["query"], variables, operation, actor=actor))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = REQUEST_QUEUE_SIZE
    runner: CommandRunner
    graphql: Any
    websocket_handler: Callable[[BaseHTTPRequestHandler], None] | None
    health: Callable[[], dict[str, Any]]
    before_answer: Callable[[], None] | None

    def __init__(self, address: tuple[str, int], handler: type, idle_timeout: float = IDLE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        super().__init__(address, handler)
        self.idle_timeout = idle_timeout
        self.activity = threading.Condition()
        self.running = 0  # requests being handled (not idle kept-alive connections)
        self.closing = False
        self.slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            # Every thread is busy: answer at once instead of queueing an unbounded number of threads.
            body = json.dumps(error_body("ServiceUnavailable", "Too many connections; retry.")).encode()
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                                b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class LocalServer:
    def __init__(self, host: str, port: int, runner: CommandRunner, graphql: Any,
                 health: Callable[[], dict[str, Any]], before_answer: Callable[[], None] | None = None,
                 idle_timeout: float = IDLE_TIMEOUT, max_connections: int = MAX_CONNECTIONS) -> None:
        self.httpd = _HTTPServer((host, port), _Handler, idle_timeout, max_connections)
        self.httpd.runner = runner
        self.httpd.graphql = graphql
        self.httpd.websocket_handler = None
        self.httpd.health = health
        self.httpd.before_answer = before_answer
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def websocket_handler(self) -> Callable[[BaseHTTPRequestHandler], None] | None:
        return self.httpd.websocket_handler

    @websocket_handler.setter
    def websocket_handler(self, handler: Callable[[BaseHTTPRequestHandler], None] | None) -> None:
        self.httpd.websocket_handler = handler

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="chronicle-http", daemon=True)
        self._thread.start()

    def stop(self, drain_timeout: float = 30.0) -> bool:
        """Stop accepting, then wait (at most ``drain_timeout``) for running requests; False if some still run."""
        with self.httpd.activity:
            self.httpd.closing = True
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        deadline = time.monotonic() + drain_timeout
        with self.httpd.activity:
            while self.httpd.running:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("%d requests still running after %g s; stopping anyway (they will get 503)",
                                self.httpd.running, drain_timeout)
                    return False
                self.httpd.activity.wait(left)
        return True


__all__ = ["CommandRunner", "LocalServer", "MAX_BODY", "HTTPStatus"]
