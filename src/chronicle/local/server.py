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
thread each; beyond that a connection gets 503 and is closed); a WebSocket upgrade moves its connection from that
pool to its own, ``MAX_WEBSOCKETS`` (503 before the upgrade when it is full), so sockets never starve HTTP; a
connection that sends nothing for ``IDLE_TIMEOUT`` seconds, in its headers, its body or between keep-alive requests, is closed (408 when a body
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

from chronicle import identity, strictjson
from chronicle.commands import MAX_EXECUTION_INPUT_BYTES, execution_input_size, too_large
from chronicle.errors import HTTP_STATUS, ChronicleError, body_from_cause

from . import fastpath, origins, tokens
from .journal import JournalClosed, JournalFailed

log = logging.getLogger("chronicle.local.server")
trail_log = logging.getLogger("chronicle.local.trail")

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
REQUEST_QUEUE_SIZE = 512  # listen backlog (the standard library's 5 overflowed under 16 clients)
MAX_CONNECTIONS = 256  # threads serving HTTP connections at once
MAX_WEBSOCKETS = 256  # WebSocket connections at once: their own cap, so that sockets never starve HTTP
IDLE_TIMEOUT = 20.0  # seconds a connection may stay silent (headers, body, keep-alive) before it is closed
EXECUTION_HEADER = "X-Chronicle-Execution"  # the execution ARN of a command's answer (api/openapi.yaml maps it too)
# /iam/commands is the SigV4 route of AWS (docs/decisions/0016); locally both take the same actor (no signature).
_COMMAND_PATH = re.compile(r"^(?:/iam)?/commands/([^/?#]+)/?$")
_COMMAND_TYPE = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}$")  # the same pattern as api/openapi.yaml


def command_state_machine_name(stack_name: str, command_type: str) -> str:
    """The name template.yaml gives a command's state machine; api/openapi.yaml builds the same ARN."""
    return f"{stack_name}-command-{command_type}"


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details or []}


class CommandRunner:
    """Runs one command's state machine to completion (StartExecution + DescribeExecution polling).

    :meth:`run` answers ``(status, body, execution ARN or None)``: None when no execution started (an unknown
    command, a body over the input limit). Each ended execution is kept in ``trail`` (trail.py) and logged on
    the ``chronicle.local.trail`` logger: ERROR with the traceback for a 500, one INFO line for a refusal."""

    def __init__(self, session: Any, state_machines: dict[str, str], stack_name: str = "chronicle",
                 timeout: float = 120.0, after_success: Callable[[], Any] | None = None, trail: Any = None) -> None:
        self.sfn = session.client("stepfunctions")
        self.state_machines = state_machines
        self.stack_name = stack_name
        self.timeout = timeout
        self.after_success = after_success
        self.trail = trail

    def state_machine_arn(self, command_type: str) -> str | None:
        return self.state_machines.get(command_state_machine_name(self.stack_name, command_type))

    def run(self, command_type: str, body: str, actor_id: str) -> tuple[int, dict[str, Any], str | None]:
        arn = self.state_machine_arn(command_type) if _COMMAND_TYPE.fullmatch(command_type) else None
        if arn is None:
            trail_log.info("404 UnknownCommand %.80s by %s", command_type, actor_id)
            return 404, error_body("UnknownCommand", f"Unknown command type {command_type!r}."), None
        request_id = str(uuid.uuid4())
        payload = {"commandType": command_type, "body": body, "actorId": actor_id, "requestId": request_id}
        execution_input = json.dumps(payload)
        size = execution_input_size(payload)  # what Step Functions would get from API Gateway's template in AWS
        if size > MAX_EXECUTION_INPUT_BYTES:  # Step Functions would refuse to start it (InvalidExecutionInput)
            trail_log.info("413 PayloadTooLarge %s by %s (%d bytes)", command_type, actor_id, size)
            return 413, too_large("command (JSON-escaped, as Step Functions carries it)", size,
                                  MAX_EXECUTION_INPUT_BYTES).body(), None
        execution_arn = arn.replace(":stateMachine:", ":execution:", 1) + f":{request_id}"
        desc = self._execute(arn, request_id, execution_input, execution_arn)
        if desc is None:
            trail_log.error("%s timed out after %g s in execution %s", command_type, self.timeout, execution_arn)
            return 504, error_body("Timeout", f"The command did not finish within {self.timeout:g} s.",
                                   [{"executionArn": execution_arn}]), execution_arn
        if self.trail is not None:
            self.trail.capture(self.sfn, execution_arn, command_type, actor_id)
        status, answer = self._answer(desc)
        _log_outcome(status, answer, desc, command_type, actor_id, execution_arn)
        if status == 500:
            answer["message"] = (f"The command could not be processed: see execution {execution_arn} "
                                 f"(/console/executions/{request_id}, or chronicle executions show {request_id}).")
            answer["details"] = [{"executionArn": execution_arn}]
        return status, answer, execution_arn

    def _execute(self, arn: str, request_id: str, execution_input: str, execution_arn: str) -> Any:
        """The ended execution's description; None when it did not end within the timeout."""
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
                    return desc
                if time.monotonic() > deadline:
                    return None
                if finished is None:
                    time.sleep(delay)
                    delay = min(delay * 1.5, 0.05)
        finally:
            fastpath.unwatch(execution_arn)

    def _answer(self, desc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
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


def _log_outcome(status: int, answer: dict[str, Any], desc: dict[str, Any], command_type: str, actor_id: str,
                 execution_arn: str) -> None:
    """The console trail: one ERROR (with the handler's traceback) per 500, one INFO line per refusal."""
    if status == 200:
        trail_log.debug("200 %s by %s in execution %s", command_type, actor_id, execution_arn)
    elif status >= 500:
        trail_log.error("%s failed (%s) in execution %s\n%s", command_type, desc.get("error") or desc["status"],
                        execution_arn, format_cause(desc.get("cause")))
    else:
        trail_log.info("%d %s %s by %s: %.200s (execution %s)", status, answer.get("error"), command_type,
                       actor_id, answer.get("message"), execution_arn)


def format_cause(cause: str | None) -> str:
    """A Lambda error payload (errorType, errorMessage, stackTrace) as a Python traceback."""
    try:
        payload = json.loads(cause or "")
    except ValueError:
        return f"cause: {cause}"
    if not isinstance(payload, dict) or "errorType" not in payload:
        return f"cause: {cause}"
    frames = payload.get("stackTrace") or []
    lines = ["Traceback (most recent call last):"] if frames else []
    lines += [str(frame).rstrip("\n") for frame in frames]
    lines.append(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
    return "\n".join(lines)


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
        trail_log.info("%d %s %s %s: %s", status, code, self.command, self._path()[:200], message)
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
            fenced = server.fence() if server.fence is not None and self._path() not in ("/health", "/health/") \
                else None
            if fenced is not None:  # a journal write failed: nothing it serves could be trusted to be saved
                self.close_connection = True
                self._send_json(*fenced, {"connection": "close"})
                return
            if not self._origin_allowed():
                return
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

    def _origin_allowed(self) -> bool:
        """False after answering 403: a browser page of another origin (origins.py) may not reach any route but
        /health, whether by fetch, a form's text/plain POST or a WebSocket (cross-site WebSocket hijacking)."""
        origin = self.headers.get("origin")
        if origin is None or self._path() in ("/health", "/health/") or \
                origins.allowed(origin, self.server.origins()):
            return True
        self._refuse(403, "Forbidden", f"Cross-origin requests from {origin[:200]} are refused: a web page could "
                                       "act as anyone here. Allow an origin with `chronicle local --cors-origin "
                                       "ORIGIN`.", [{"origin": origin[:200]}])
        return False

    def _console(self, body: bytes = b"") -> bool:
        """Answer a console route (console_api.py); False when the path is not one."""
        console = self.server.console
        answer = console.handle(self.command, self.path, self.headers, body) if console is not None else None
        if answer is None:
            return False
        status, content_type, data, extra = answer
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.send_header("cache-control", "no-store")
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return True

    def _get(self) -> None:
        path = self._path()
        if self._console():
            return
        if path in ("/health", "/health/"):
            health = self.server.health()
            self._send_json(200 if health.get("status", "ok") == "ok" else 503, health)
        elif path == "/graphql" and self.headers.get("upgrade", "").lower() == "websocket":
            handler = self.server.websocket_handler
            if handler is None:
                self._send_json(501, error_body("NotImplemented", "GraphQL subscriptions over WebSocket are "
                                                                  "not served by this server (no websocket handler)."))
            elif (actor := self._actor()) is False:  # a refused token or actor id: answered before the upgrade
                return
            elif not self.server.enter_websocket(self.request):
                self.close_connection = True
                self._send_json(503, error_body("ServiceUnavailable", "Too many WebSocket connections; retry."),
                                {"connection": "close"})
            else:
                self.connection.settimeout(None)  # a subscription may stay quiet for long; the protocol has pings
                self.upgrade_actor = actor  # the upgrade's token subject or X-Actor-Id (websocket.py)
                handler(self)
        elif path == "/graphql" or _COMMAND_PATH.fullmatch(path):
            self._send_json(405, error_body("MethodNotAllowed", f"Use POST {path}."), {"allow": "POST"})
        else:
            self._not_found()

    def _other(self) -> None:
        self.close_connection = True  # a body may follow that we do not read
        path = self._path()
        allowed = "POST" if path == "/graphql" or _COMMAND_PATH.fullmatch(path) else \
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
        match = _COMMAND_PATH.fullmatch(path)
        if not match and path != "/graphql":
            raw = self._read_body()
            if raw is not None and not self._console(raw):  # None: it answered already (bad framing, too large)
                self._not_found()
            return
        raw = self._read_body()
        if raw is None:
            return
        actor = self._actor()
        if actor is False:
            return
        if match:
            command_type = match.group(1)
            actor = actor or "anonymous"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:  # the execution input is JSON text: it cannot carry these bytes
                trail_log.info("400 ValidationError %s by %s: the body is not UTF-8", command_type, actor)
                self._send_json(400, error_body("ValidationError", "The request body is not UTF-8.", [
                    {"path": "$", "message": f"byte {error.start}: {error.reason}"}]))
                return
            status, body, execution = self.server.runner.run(command_type, text, actor)
            if self.server.before_answer is not None:
                try:
                    self.server.before_answer()  # what the answer reports is on disk before it leaves
                except JournalClosed:
                    self.close_connection = True
                    status, body = 503, error_body("ServiceUnavailable", "The local runtime stopped before this "
                                                   "command's outcome was saved; retry it with the same commandId.")
                except JournalFailed:
                    self.close_connection = True
                    status, body = self.server.fence() or (503, error_body("StorageFailure", "The journal failed."))
            self._send_json(status, body, {EXECUTION_HEADER: execution} if execution else None)
        else:
            self._graphql(raw, actor)

    def _actor(self) -> str | None | bool:
        """The caller: a local token's sub (Authorization, as the Cognito authorizer reads it in AWS), else the
        X-Actor-Id header, else None (anonymous). False: refused and answered (401 for a bad token, 403 for an actor
        id with a typed id prefix, docs/decisions/0010)."""
        authorization = (self.headers.get("authorization") or "").strip()
        key = self.server.token_key
        if authorization and key is not None and not authorization.startswith("AWS4-"):  # SigV4 is not checked
            try:
                actor = tokens.verify(key, authorization)["sub"]
            except tokens.InvalidToken as refusal:
                self._send_json(401, error_body("Unauthorized", f"The Authorization token is refused: {refusal}."))
                return False
        else:
            actor = (self.headers.get("x-actor-id") or "").strip() or None
        try:
            if actor is not None:
                identity.check_actor_id(actor)  # a project- / template- id is never an actor (decision 0010)
        except ChronicleError as refusal:
            self._send_json(refusal.status, refusal.body())
            return False
        return actor

    def _graphql(self, raw: bytes, actor: str | None) -> None:
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
    token_key: bytes | None
    fence: Callable[[], tuple[int, dict[str, Any]] | None] | None
    console: Any = None  # console_api.Console: /, /console, /console/api
    cors_origins: tuple[str, ...] = ()  # chronicle local --cors-origin: web origins served besides our own

    def origins(self) -> frozenset[str]:
        host, port = self.server_address[0], self.server_address[1]
        return origins.own_origins(self.bind_host or str(host), int(port), self.cors_origins)

    def __init__(self, address: tuple[str, int], handler: type, idle_timeout: float = IDLE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS, max_websockets: int = MAX_WEBSOCKETS) -> None:
        super().__init__(address, handler)
        self.bind_host = address[0]
        self.idle_timeout = idle_timeout
        self.activity = threading.Condition()
        self.running = 0  # requests being handled (not idle kept-alive connections)
        self.closing = False
        self.slots = threading.BoundedSemaphore(max_connections)
        self.websocket_slots = threading.BoundedSemaphore(max_websockets)
        self._websockets: set[int] = set()  # ids of the sockets that moved from an HTTP slot to a WebSocket one
        self._websockets_lock = threading.Lock()

    def enter_websocket(self, request: Any) -> bool:
        """An upgrade request's connection leaves its HTTP slot for a WebSocket slot; False when none is free."""
        if not self.websocket_slots.acquire(blocking=False):
            return False
        with self._websockets_lock:
            self._websockets.add(id(request))
        self.slots.release()
        return True

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
            with self._websockets_lock:
                upgraded = id(request) in self._websockets
                self._websockets.discard(id(request))
            (self.websocket_slots if upgraded else self.slots).release()


class LocalServer:
    def __init__(self, host: str, port: int, runner: CommandRunner, graphql: Any,
                 health: Callable[[], dict[str, Any]], before_answer: Callable[[], None] | None = None,
                 idle_timeout: float = IDLE_TIMEOUT, max_connections: int = MAX_CONNECTIONS,
                 max_websockets: int = MAX_WEBSOCKETS, token_key: bytes | None = None,
                 fence: Callable[[], tuple[int, dict[str, Any]] | None] | None = None,
                 cors_origins: list[str] | tuple[str, ...] = ()) -> None:
        self.httpd = _HTTPServer((host, port), _Handler, idle_timeout, max_connections, max_websockets)
        self.httpd.cors_origins = tuple(cors_origins)
        self.httpd.token_key = token_key  # chronicle.local.tokens: Authorization tokens it accepts
        self.httpd.runner = runner
        self.httpd.graphql = graphql
        self.httpd.websocket_handler = None
        self.httpd.health = health
        self.httpd.before_answer = before_answer
        self.httpd.fence = fence  # (status, body) every request but /health gets, e.g. after a failed journal write
        self.httpd.console = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def console(self) -> Any:
        return self.httpd.console

    @console.setter
    def console(self, console: Any) -> None:
        self.httpd.console = console

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
