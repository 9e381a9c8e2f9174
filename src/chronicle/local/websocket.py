"""``GET /graphql`` with ``Upgrade: websocket``: the graphql-transport-ws protocol (docs/reference/graphql.md, locally).

The HTTP server already parsed the upgrade request, so the connection is driven with websockets' sans-I/O
``ServerProtocol`` over the handler's socket. Protocol (github.com/enisdenjo/graphql-ws, PROTOCOL.md):
``connection_init`` -> ``connection_ack``; ``subscribe {id, payload: {query, variables, operationName}}`` ->
``next`` per published change (``error`` for an invalid document); ``complete`` ends a subscription; ``ping`` ->
``pong``. Protocol violations close the socket with the 44xx codes the protocol names; a connection that has not
sent ``connection_init`` within ``INIT_TIMEOUT`` seconds is closed with 4408, as the protocol says.

The actor: a socket's queries and subscriptions run as its actor, taken as the HTTP routes take it: a local token
(``chronicle token``) in the upgrade's ``Authorization`` header, else its ``X-Actor-Id`` header; or, for clients
that cannot set headers on a WebSocket (browsers), ``connection_init``'s payload ``{"Authorization": token}`` or
``{"X-Actor-Id": ...}`` (``actorId`` is read too); without any it is anonymous. A refused token, or an actor id
with a typed id prefix (docs/decisions/0010), is 401/403 before the upgrade, or closes the socket with 4403. Each change is pushed only to the
subscribers that may see it (``chronicle.subscription_rights``, the rules of the queries).
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from websockets.frames import Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from chronicle import identity, strictjson
from chronicle.errors import ChronicleError

from . import tokens

from .subscriptions import DocumentErrors, SubscriptionHub, is_subscription

log = logging.getLogger(__name__)

SUBPROTOCOL = Subprotocol("graphql-transport-ws")
OUTBOX_LIMIT = 1000  # messages waiting for one client before it is dropped
MAX_ACTOR_CHARS = 2048  # as the command API's actor id
ACTOR_KEYS = ("X-Actor-Id", "x-actor-id", "actorId")  # where connection_init's payload may name the actor
INIT_TIMEOUT = 10.0  # seconds from the upgrade to connection_init (graphql-ws's connectionInitWaitTimeout)


class GraphQLWebSocket:
    """The server's ``websocket_handler``: one call per connection, on that connection's thread."""

    def __init__(self, graphql: Any, hub: SubscriptionHub, init_timeout: float = INIT_TIMEOUT) -> None:
        self.graphql = graphql
        self.hub = hub
        self.init_timeout = init_timeout
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True  # the socket is ours from here on, never another HTTP request
        connection = _Connection(handler, self)
        with self._lock:
            self._connections.add(connection)
        try:
            connection.run()
        finally:
            with self._lock:
                self._connections.discard(connection)

    def close_all(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close(1001, "server shutting down")


class _Connection:
    def __init__(self, handler: BaseHTTPRequestHandler, server: GraphQLWebSocket) -> None:
        self.handler = handler
        self.server = server
        self.protocol = ServerProtocol(subprotocols=[SUBPROTOCOL])
        self.acknowledged = False
        self.actor: str | None = None  # the upgrade's X-Actor-Id, or connection_init's payload (see the module)
        self.subscriptions: dict[str, list[Any]] = {}
        self._send_lock = threading.Lock()
        # Messages go out through one writer thread, so that a client that stops reading fills its own outbox
        # (and is then dropped) instead of blocking the event dispatcher that publishes changes.
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=OUTBOX_LIMIT)
        self._done = threading.Event()
        self._init_deadline = time.monotonic() + server.init_timeout

    # -- I/O ---------------------------------------------------------------------------------------------
    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.handler.connection.sendall(data)
            else:  # the protocol's signal to half-close: the peer then closes and our read sees EOF
                self.handler.connection.shutdown(socket.SHUT_WR)

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the writer; never blocks (a full outbox drops the connection)."""
        if self._done.is_set() or self.protocol.state is not State.OPEN:
            raise ConnectionError("closed")
        try:
            self._outbox.put_nowait(message)
        except queue.Full:
            log.warning("dropping a WebSocket client that does not read its messages")
            self.abort()
            raise ConnectionError("client too slow") from None

    def abort(self) -> None:
        """Cut the connection now: the reader sees EOF and unsubscribes, a blocked write fails."""
        self._done.set()
        try:
            self.handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _write_loop(self) -> None:
        while not self._done.is_set():
            if not self.acknowledged and time.monotonic() > self._init_deadline:
                self.close(4408, "Connection initialisation timeout")
                self.abort()  # a client that sent nothing may not answer the close either
                return
            try:
                message = self._outbox.get(timeout=min(0.5, max(0.01, self._init_deadline - time.monotonic()))
                                           if not self.acknowledged else 0.5)
            except queue.Empty:
                continue
            if message is None:
                return
            try:
                with self._send_lock:
                    if self.protocol.state is not State.OPEN:
                        return
                    self.protocol.send_text(json.dumps(message).encode())
                    self._flush()
            except OSError:
                self.abort()
                return

    def close(self, code: int, reason: str) -> None:
        if not self._send_lock.acquire(timeout=1):  # the writer is stuck on a client that does not read
            self.abort()
            return
        try:
            if self.protocol.state is State.OPEN:
                self.protocol.send_close(code, reason)
                try:
                    self._flush()
                except OSError:
                    pass
        finally:
            self._send_lock.release()

    def run(self) -> None:
        # The protocol's parser starts by reading the HTTP request: give it the one the HTTP server consumed.
        self.actor = getattr(self.handler, "upgrade_actor", None)  # server.py resolved it (token or X-Actor-Id)
        head = self.handler.requestline + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in self.handler.headers.items())
        self.protocol.receive_data((head + "\r\n").encode("latin-1"))
        request = self.protocol.events_received()[0]
        response = self.protocol.accept(request)
        if response.status_code == 101 and SUBPROTOCOL not in (response.headers.get("Sec-WebSocket-Protocol") or ""):
            response = self.protocol.reject(400, "Use the graphql-transport-ws subprotocol.\n")
        with self._send_lock:
            self.protocol.send_response(response)
            self._flush()
        if response.status_code != 101:
            return
        writer = threading.Thread(target=self._write_loop, daemon=True, name="chronicle-ws-writer")
        writer.start()
        try:
            while self.protocol.state is not State.CLOSED:
                data = self.handler.rfile.read1(65536)
                if data:
                    self.protocol.receive_data(data)
                else:
                    self.protocol.receive_eof()
                for frame in self.protocol.events_received():
                    if frame.opcode is Opcode.TEXT:
                        self.on_message(frame.data.decode("utf-8", errors="replace"))
                    elif frame.opcode is Opcode.BINARY:
                        self.close(4400, "Binary frames are not part of graphql-transport-ws")
                with self._send_lock:
                    self._flush()  # pongs and close frames the protocol queued itself
                if not data:
                    break
        except OSError:
            pass
        finally:
            for registered in self.subscriptions.values():
                self.server.hub.unsubscribe(registered)
            self.subscriptions.clear()
            self._done.set()
            writer.join(timeout=2)

    # -- graphql-transport-ws ------------------------------------------------------------------------------
    def on_message(self, text: str) -> None:
        try:
            message = strictjson.loads(text)  # strict and at most 64 levels deep, like POST /graphql
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            self.close(4400, "Invalid message")
            return
        if kind == "connection_init":
            if self.acknowledged:
                self.close(4429, "Too many initialisation requests")
            elif self._take_actor(message.get("payload")):
                self.acknowledged = True
                self.send({"type": "connection_ack"})
        elif kind == "ping":
            self.send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            self.on_subscribe(message)
        elif kind == "complete":
            registered = self.subscriptions.pop(str(message.get("id")), None)
            if registered:
                self.server.hub.unsubscribe(registered)
        else:
            self.close(4400, f"Unknown message type {kind!r}")

    def _take_actor(self, payload: Any) -> bool:
        """connection_init's payload may name the actor (browsers cannot set headers on a WebSocket)."""
        if payload is None:
            return True
        given = next((payload[k] for k in ACTOR_KEYS if k in payload), None) if isinstance(payload, dict) else 0
        if given is not None and not (isinstance(given, str) and len(given) <= MAX_ACTOR_CHARS):
            self.close(4400, "connection_init's payload must be an object; its X-Actor-Id a string of at most "
                             f"{MAX_ACTOR_CHARS} characters")
            return False
        token = payload.get("Authorization", payload.get("authorization")) if isinstance(payload, dict) else None
        if token is not None:
            given = self._token_actor(token)
            if given is None:
                return False
        if given is not None:
            given = given.strip()
            try:
                if given:
                    identity.check_actor_id(given)  # never a project- / template- id (decision 0010)
            except ChronicleError:
                self.close(4403, "Forbidden: actor ids starting with project- or template- are reserved")
                return False
            self.actor = given or None
        return True

    def _token_actor(self, token: Any) -> str | None:
        """The subject of connection_init's local token, as the HTTP routes read ``Authorization``; None after
        closing the socket (4403) for a token that is not one this runtime signed."""
        key = getattr(self.handler.server, "token_key", None)
        if not isinstance(token, str) or key is None:
            self.close(4403, "Forbidden: this runtime accepts no such Authorization token")
            return None
        try:
            return str(tokens.verify(key, token)["sub"])
        except tokens.InvalidToken as refusal:
            self.close(4403, f"Forbidden: the Authorization token is refused: {refusal}"[:120])
            return None

    def on_subscribe(self, message: dict[str, Any]) -> None:
        if not self.acknowledged:
            self.close(4401, "Unauthorized")
            return
        sub_id, payload = message.get("id"), message.get("payload")
        if not isinstance(sub_id, str) or not isinstance(payload, dict):
            self.close(4400, "subscribe needs a string id and a payload object")
            return
        if sub_id in self.subscriptions:
            self.close(4409, f"Subscriber for {sub_id} already exists")
            return
        variables = payload.get("variables") or {}
        try:
            if not isinstance(variables, dict):
                raise DocumentErrors([])
            document, operation = self.server.graphql.prepare(payload.get("query"), payload.get("operationName"),
                                                              transport="websocket")
        except DocumentErrors as problem:
            errors = [e.formatted for e in problem.errors] or [{"message": "'variables' must be an object"}]
            self.send({"type": "error", "id": sub_id, "payload": errors})
            return
        if not is_subscription(operation):  # a query or mutation over the socket: one result, then complete
            result = self.server.graphql.execute_document(document, variables, payload.get("operationName"),
                                                          self.actor)
            self.send({"type": "next", "id": sub_id, "payload": result})
            self.send({"type": "complete", "id": sub_id})
            return

        def send(result: dict[str, Any], sub_id: str = sub_id) -> None:
            self.send({"type": "next", "id": sub_id, "payload": result})

        try:
            self.subscriptions[sub_id] = self.server.hub.subscribe(document, operation, variables, send, self.actor)
        except DocumentErrors as problem:  # variables that do not fit the operation, or not the actor's to see
            self.send({"type": "error", "id": sub_id, "payload": [e.formatted for e in problem.errors]})
