"""`chronicle local` as a Python object: emulator + stack + seam + persistence + HTTP server.

    rt = LocalRuntime(root=".", port=0, aws_port=0, state_dir=tmp).start()
    rt.url            # http://127.0.0.1:<port>
    rt.aws_endpoint   # http://127.0.0.1:<aws port>, for boto3 / aws --endpoint-url
    rt.stop()         # saves state (unless ephemeral)

Order matters: the emulator sets ``AWS_ENDPOINT_URL`` & co. in ``os.environ`` before any handler module is
imported (handlers are imported lazily, on first invoke), then the template's shared function environment is
set in ``os.environ`` too, because every handler runs in this one process.

One runtime per process: the seam patches moto's classes and the environment is process-wide.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from . import moto_atomic, seam
from .emulator import REGION, Emulator
from .stack import STACK_NAME, Stack, build_stack

log = logging.getLogger("chronicle.local")


def find_root(start: str | Path | None = None) -> Path:
    """The project directory: the nearest parent holding template.yaml (else the start directory)."""
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents):
        if (d / "template.yaml").is_file():
            return d
    return here


def _clear_process_caches() -> None:
    """Forget boto3 clients the chronicle package cached for an earlier endpoint (lru_cache'd factories)."""
    import sys

    module = sys.modules.get("chronicle.aws")
    for value in vars(module).values() if module else ():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


class PortInUse(OSError):
    """A port the runtime needs is taken; the message names it and the option that changes it."""


@contextlib.contextmanager
def _naming_the_port(host: str, port: int | None, option: str) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise PortInUse(errno.EADDRINUSE, f"{host}:{port} is already in use (another `chronicle local`?): stop "
                                          f"it, or choose another port with {option} N") from None


def _check_free(host: str, port: int | None, option: str) -> None:
    if not port:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as both servers bind
        with _naming_the_port(host, port, option):
            probe.bind((host, port))


class LocalRuntime:
    def __init__(self, root: str | Path | None = None, host: str = "127.0.0.1", port: int = 3000,
                 state_dir: str | Path | None = ".chronicle", ephemeral: bool = False, aws_port: int | None = None,
                 template: str = "template.yaml", schema: str = "api/schema.graphql",
                 save_interval: float = 2.0, settle_timeout: float = 5.0,
                 graphql_resolve: Any = None) -> None:
        self.root = find_root(root)
        self.host = host
        self.port = port
        self.aws_port = aws_port or None
        self.ephemeral = ephemeral
        state = Path(state_dir or ".chronicle")
        self.state_dir = state if state.is_absolute() else self.root / state
        self.template_path = self.root / template
        self.schema_path = self.root / schema
        self.save_interval = save_interval
        self.settle_timeout = settle_timeout
        self.graphql_resolve = graphql_resolve  # (field, args) -> value; default chronicle.queries.resolve
        self.emulator: Emulator | None = None
        self.stack: Stack | None = None
        self.dispatcher: seam.EventDispatcher | None = None
        self.websocket: Any = None
        self.poller: Any = None
        self.persister: Any = None
        self.server: Any = None
        self.loaded: dict[str, int] = {}
        self.startup_seconds = 0.0
        self._stopped = threading.Event()
        self._started = False
        self._saved_env: dict[str, str] | None = None

    @property
    def url(self) -> str:
        port = self.server.port if self.server else self.port
        return f"http://{self.host}:{port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def aws_endpoint(self) -> str:
        assert self.emulator is not None, "start() first"
        return self.emulator.endpoint

    def start(self) -> LocalRuntime:
        import boto3

        t0 = time.monotonic()
        if not self.template_path.is_file():
            raise FileNotFoundError(f"{self.template_path} not found (run from the project directory)")
        # Checked before anything starts: werkzeug (the emulator's server) exits the process on a taken port.
        _check_free(self.host, self.port, "--port")
        _check_free(self.host, self.aws_port, "--aws-port")
        self._saved_env = dict(os.environ)
        self.emulator = Emulator(self.host, self.aws_port).start()
        try:
            _clear_process_caches()
            # moto's DynamoDB is not atomic under threads (two conditional writers can both win): serialize it, so
            # the local event store keeps the guarantees DynamoDB gives in AWS (docs/eventstore.md).
            moto_atomic.install()
            registry = seam.HandlerRegistry()
            self.dispatcher = seam.install(registry)
            session = boto3.session.Session(region_name=REGION)
            self.stack = build_stack(self.template_path, session=session, stack_name=STACK_NAME)
            os.environ.update(self.stack.environment)
            for name, spec in self.stack.handlers.items():
                registry.register(name, spec)

            if not self.ephemeral:
                from .persistence import StatePersister

                emulator = self.emulator
                self.persister = StatePersister(
                    self.state_dir, list(self.stack.tables.values()), list(self.stack.buckets.values()), session,
                    is_dirty=lambda: emulator.dirty, clear_dirty=lambda: setattr(emulator, "dirty", False),
                    interval=self.save_interval,
                )
                self.loaded = self.persister.load()
                self.persister.start()

            from .graphql_local import LocalGraphQL, limits_from_template
            from .server import CommandRunner, LocalServer
            from .stack import load_template

            graphql = None
            if self.schema_path.is_file():
                kwargs = {"resolve": self.graphql_resolve} if self.graphql_resolve else {}
                depth_limit, resolver_limit = limits_from_template(load_template(self.template_path))
                graphql = LocalGraphQL(self.schema_path, depth_limit=depth_limit, resolver_limit=resolver_limit,
                                       **kwargs)
            if graphql is not None:
                self._wire_subscriptions(graphql)
            dispatcher = self.dispatcher
            runner = CommandRunner(session, self.stack.state_machines, STACK_NAME,
                                   after_success=lambda: dispatcher.wait_idle(self.settle_timeout))
            if self.stack.queue_consumers:
                from .queues import QueuePoller

                self.poller = QueuePoller(session.client("sqs"), self.stack.queue_consumers)
                self.poller.start()
            with _naming_the_port(self.host, self.port, "--port"):
                self.server = LocalServer(self.host, self.port, runner, graphql, self.health)
            if graphql is not None:
                from .websocket import GraphQLWebSocket

                self.websocket = GraphQLWebSocket(graphql, graphql.hub)
                self.server.websocket_handler = self.websocket
            self.server.start()
        except BaseException:
            self.stop(save=False)
            raise
        self._started = True
        self.startup_seconds = time.monotonic() - t0
        return self

    def _wire_subscriptions(self, graphql: Any) -> None:
        """The template's EventBridge -> AppSync rule targets, run against the local GraphQL API."""
        from .subscriptions import transform_input

        for target in self.stack.graphql_targets:
            def run(event: dict[str, Any], target: Any = target) -> None:
                if target.input is not None:
                    variables = json.loads(target.input)
                elif target.input_transformer:
                    variables = transform_input(target.input_transformer, event)
                else:
                    variables = event
                graphql.run_rule_target(target.operation, variables)

            seam.on_rule(target.rule, run)

    def health(self) -> dict[str, Any]:
        stack = self.stack
        return {
            "status": "ok",
            "awsEndpoint": self.emulator.endpoint if self.emulator else None,
            "stateDir": None if self.ephemeral else str(self.state_dir),
            "stateMachines": sorted(stack.state_machines) if stack else [],
            "functions": sorted(stack.handlers) if stack else [],
            "tables": stack.tables if stack else {},
            "events": {"delivered": self.dispatcher.delivered, "failed": self.dispatcher.failed}
            if self.dispatcher else {},
            "queues": {"processed": self.poller.processed, "failed": self.poller.failed} if self.poller else {},
        }

    def stop(self, save: bool = True) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.websocket is not None:
            self.websocket.close_all()
        if self.server is not None:
            self.server.stop()
        if self.poller is not None:
            self.poller.stop()
        if self.dispatcher is not None:
            self.dispatcher.wait_idle(self.settle_timeout)
        if self.persister is not None:
            try:
                self.persister.stop(save=save and self._started)
            except Exception:  # noqa: BLE001
                log.exception("saving local state on shutdown failed")
        seam.uninstall()
        moto_atomic.uninstall()
        if self.emulator is not None:
            self.emulator.stop()
        if self._saved_env is not None:  # leave the process environment as we found it
            for key in set(os.environ) - set(self._saved_env):
                del os.environ[key]
            os.environ.update(self._saved_env)
            _clear_process_caches()

    def wait(self) -> None:
        """Block until :meth:`stop` (from a signal handler or another thread)."""
        while not self._stopped.wait(0.5):
            pass

    def aws_examples(self) -> list[str]:
        """Commands that work as printed, even where no AWS configuration exists (tests run them so)."""
        tables = self.stack.tables if self.stack else {}
        return [
            f"  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --endpoint-url {self.aws_endpoint} "
            f"--region {REGION} dynamodb list-tables",
            f"  chronicle projections rebuild --endpoint-url {self.aws_endpoint} "
            f"--event-table {tables.get('EventStoreTable')} --read-model-table {tables.get('ProjectReadModelTable')}",
        ]

    def banner(self) -> str:
        lines = [
            "Chronicle local runtime",
            f"  Command API  {self.url}/commands/<CommandType>",
            f"  GraphQL      {self.graphql_url}",
            f"  Subscribe    {self.graphql_url.replace('http://', 'ws://')}   (graphql-transport-ws)",
            f"  Health       {self.url}/health",
            f"  AWS endpoint {self.aws_endpoint}   (any region and key: no AWS account or configuration needed)",
            f"  Tables       {', '.join(self.stack.tables.values()) if self.stack else ''}",
            f"  State        {'ephemeral (nothing kept)' if self.ephemeral else self.state_dir}"
            + (f"  (loaded {sum(self.loaded.values())} items/objects)" if self.loaded else ""),
            f"  Started in   {self.startup_seconds:.1f} s",
            "",
            "Try:",
            f"  curl -s -X POST {self.url}/commands/CreateProject -H 'content-type: application/json' "
            "-H 'X-Actor-Id: alice' -d '{\"data\":{\"name\":\"Demo\",\"ownerId\":\"alice\"}}'",
            *self.aws_examples(),
            "",
            "Ready.",
        ]
        return "\n".join(lines)
