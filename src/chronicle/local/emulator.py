"""The embedded AWS emulator: moto's ThreadedMotoServer, in this process, on 127.0.0.1.

:func:`configure_environment` must run before any handler module (or anything creating boto3 clients at import
time) is imported: it points every boto3 client of the process at the emulator via ``AWS_ENDPOINT_URL``, with
fake credentials and ``us-east-1``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from typing import Any
import urllib.request

from . import origins
from .account import ACCOUNT_ID, REGION

__all__ = ["ACCOUNT_ID", "REGION", "Emulator", "configure_environment", "free_port"]

log = logging.getLogger("chronicle.local.emulator")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def configure_environment(endpoint: str, port: int) -> None:
    """Point boto3 (handlers, moto's own Step Functions interpreter) at the emulator."""
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            # moto's Step Functions interpreter calls Lambda/DynamoDB/... at localhost:$MOTO_PORT
            "MOTO_PORT": str(port),
        }
    )
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(var, None)


class Emulator:
    """moto server with Step Functions execution enabled."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, fast: bool = True,
                 cors_origins: list[str] | tuple[str, ...] = ()) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.fast = fast  # chronicle.local.fastpath: in-process transport and caches
        # web origins allowed to call it from a browser: its own and --cors-origin, as for the API (origins.py)
        self.origins = origins.own_origins(self.host, self.port, cors_origins)
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Emulator:
        configure_environment(self.endpoint, self.port)
        if not log.isEnabledFor(logging.DEBUG):
            # werkzeug logs every request; moto's ASL interpreter logs every caught error (a Catch is normal flow)
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._server = _MotoServer(self.host, self.port, self)
        self._server.start()
        if self.fast:
            from . import fastpath

            fastpath.install_caches(self._server.dispatcher_app)
            fastpath.install_transport(self.endpoint, self._server.app)
            fastpath.install_direct(self.endpoint)
        self.reset()  # moto's backends are process-global: start from nothing even if a runtime ran before
        # "lambda.use_docker" must stay True: the simple (no-docker) backend never calls the seam.
        self.set_config({"stepfunctions": {"execute_state_machine": True}})
        log.debug("emulator on %s", self.endpoint)
        return self

    @property
    def dispatcher_app(self) -> Any:
        """moto's DomainDispatcherApplication (for chronicle.local.fastpath)."""
        return self._server.dispatcher_app if self._server else None

    def set_config(self, config: dict) -> None:
        """moto's documented server-mode switch: POST /moto-api/config."""
        req = urllib.request.Request(
            f"{self.endpoint}/moto-api/config", data=json.dumps(config).encode(), method="POST",
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def stop(self) -> None:
        if self.fast:
            from . import fastpath

            fastpath.uninstall_transport(self.endpoint)
            fastpath.uninstall_direct(self.endpoint)
            fastpath.uninstall_caches()
        if self._server is not None:
            self._server.stop()
            self._server = None

    # -- durability ------------------------------------------------------------------------------------
    # Called after a request that may have changed DynamoDB items or S3 objects, before its answer leaves
    # (the runtime sets DurableState.sync: whoever asked through this endpoint gets a durable answer too).
    after_write: Any = None
    # Returns (status, documented error body) while the runtime refuses every request (a failed journal write), else None.
    fence: Any = None

    def refusal(self, environ: dict) -> tuple[int, dict[str, Any]] | None:
        """Why an outside request is refused before it reaches moto: the runtime's fence, or a web origin not
        allowed with --cors-origin (moto itself would answer every origin's preflight and reflect it)."""
        fenced = self.fence() if self.fence is not None else None
        if fenced is not None:
            return fenced[0], {"__type": fenced[1]["error"], **fenced[1]}
        origin = environ.get("HTTP_ORIGIN")
        if not origins.allowed(origin, self.origins):
            return 403, {"__type": "AccessDeniedException", "error": "Forbidden", "details": [{"origin": origin}],
                         "message": f"Cross-origin requests from {origin[:200]} are refused: this endpoint holds "
                                    "every table and can decrypt personal data. Allow an origin with `chronicle "
                                    "local --cors-origin ORIGIN`."}
        return None

    @staticmethod
    def is_write(environ: dict) -> bool:
        """Whether a request may change DynamoDB items or S3 objects; service from the SigV4 scope."""
        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = _SCOPE.search(auth)
        service = m.group(1) if m else ""
        method = environ.get("REQUEST_METHOD", "GET")
        if service == "dynamodb":
            op = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
            return not op.startswith(_DYNAMODB_READS)
        if service == "s3":
            return method in ("PUT", "POST", "DELETE")
        # unsigned write: be conservative
        return not service and method in ("PUT", "POST", "DELETE") and not environ.get("PATH_INFO", "").startswith(
            "/moto-api")


_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_DYNAMODB_READS = ("Get", "Query", "Scan", "Describe", "List", "BatchGet", "TransactGet")


def _json_answer(start_response: Any, status: int, body: dict[str, Any]) -> list[bytes]:
    from http import HTTPStatus

    data = json.dumps(body).encode()
    start_response(f"{status} {HTTPStatus(status).phrase}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _outside_request(emulator: Emulator, moto_app: Any, environ: dict, start_response: Any) -> Any:
    """A request from outside the process: refused (fence, foreign origin), or answered by moto once what it wrote
    is on disk (the answer is held back until the journal sync returned, and replaced if the sync failed)."""
    from .journal import JournalClosed, JournalFailed

    refusal = emulator.refusal(environ)
    if refusal is not None:
        return _json_answer(start_response, *refusal)
    answer: list[Any] = []
    try:
        body = moto_app(environ, lambda status, headers, exc_info=None: answer.extend((status, headers)))
        if emulator.after_write is not None and emulator.is_write(environ):
            emulator.after_write()
    except (JournalFailed, JournalClosed):  # raised by the journaled write itself, or by the sync
        stopping = {"__type": "ServiceUnavailable", "error": "ServiceUnavailable", "details": [],
                    "message": "The local runtime is stopping."}
        return _json_answer(start_response, *(emulator.refusal(environ) or (503, stopping)))
    start_response(*answer)
    return body


class _MotoServer:
    """ThreadedMotoServer's few lines, with a WSGI wrapper that makes writes durable before they are answered."""

    def __init__(self, host: str, port: int, emulator: Emulator) -> None:
        self.host, self.port, self.emulator = host, port, emulator
        self.app: Any = None  # the WSGI application (moto's, wrapped)
        self.dispatcher_app: Any = None  # moto's DomainDispatcherApplication
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        moto_app = DomainDispatcherApplication(create_backend_app)
        emulator = self.emulator

        from . import sync_execution

        def app(environ: dict, start_response: Any) -> Any:
            if sync_execution.is_sync_start(environ):  # moto has no StartSyncExecution (sync_execution.py)
                refusal = emulator.refusal(environ)  # a fenced runtime, a foreign origin
                if refusal is not None:
                    return _json_answer(start_response, *refusal)
                return sync_execution.wsgi(environ, start_response, emulator.endpoint)
            # In-process callers (handlers, the interpreter) are synced by the command answer they are part of.
            if environ.get("chronicle.in_process"):
                return moto_app(environ, start_response)
            return _outside_request(emulator, moto_app, environ, start_response)

        self.app, self.dispatcher_app = app, moto_app

        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="chronicle-moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
