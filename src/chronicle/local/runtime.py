"""`chronicle local` as a Python object: emulator + stack + seam + durable state + HTTP server.

    rt = LocalRuntime(root=".", port=0, aws_port=0, state_dir=tmp).start()
    rt.url            # http://127.0.0.1:<port>
    rt.aws_endpoint   # http://127.0.0.1:<aws port>, for boto3 / aws --endpoint-url
    rt.stop()         # stops accepting, lets running requests finish, then checkpoints (unless ephemeral)

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
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from . import moto_atomic, moto_patches, seam
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


def storage_failure(failure: Any) -> tuple[int, dict[str, Any]]:
    """507 InsufficientStorage (disk full, quota) or 503 StorageFailure (another I/O error), naming the state dir."""
    status, code = (507, "InsufficientStorage") if failure.insufficient_storage else (503, "StorageFailure")
    folder = failure.folder.parent
    return status, {"error": code, "details": [{"stateDir": str(folder), "reason": failure.strerror}],
                    "message": f"The local runtime could not write its state to {folder} ({failure.strerror}); "
                               "it refuses every request until restarted. Free the disk, then restart `chronicle "
                               "local` and retry with the same commandId: a command answered with this error may "
                               "or may not have been saved."}


class LocalRuntime:
    def __init__(self, root: str | Path | None = None, host: str = "127.0.0.1", port: int = 3000,
                 state_dir: str | Path | None = ".chronicle", ephemeral: bool = False, aws_port: int | None = None,
                 template: str = "template.yaml", schema: str = "api/schema.graphql",
                 settle_timeout: float = 5.0, graphql_resolve: Any = None, drain_timeout: float = 30.0,
                 compact_bytes: int = 16 * 1024 * 1024, admins: list[str] | tuple[str, ...] = (),
                 cors_origins: list[str] | tuple[str, ...] = (), keep_executions: int = 10_000,
                 watch: bool = False, parameters: dict[str, str] | None = None) -> None:
        self.root = find_root(root)
        self.host = host
        self.port = port
        self.aws_port = aws_port or None
        self.ephemeral = ephemeral
        state = Path(state_dir or ".chronicle")
        self.state_dir = state if state.is_absolute() else self.root / state
        self.template_path = self.root / template
        self.schema_path = self.root / schema
        self.drain_timeout = drain_timeout  # how long stop() lets running requests finish
        self.compact_bytes = compact_bytes  # journal size that triggers a checkpoint
        self.settle_timeout = settle_timeout
        self.graphql_resolve = graphql_resolve  # (field, args) -> value; default chronicle.queries.resolve
        self.admins = [a.strip() for a in admins if a.strip()]  # the stack parameter AdminActorIds
        self.cors_origins = [o.strip().rstrip("/") for o in cors_origins if o.strip()]  # --cors-origin
        self.parameters = dict(parameters or {})  # stack parameter overrides (chronicle invoke --parameter-overrides)
        self.watch = watch  # reload edits as they are saved (chronicle.local.watch)
        self.watcher: Any = None
        self.emulator: Emulator | None = None
        self.stack: Stack | None = None
        self.dispatcher: seam.EventDispatcher | None = None
        self.registry: seam.HandlerRegistry | None = None
        self.websocket: Any = None
        self.poller: Any = None
        self.streams: Any = None
        self.statedir: Any = None
        self.durable: Any = None
        self.republished: list[dict[str, Any]] = []
        from .trail import ExecutionTrail

        self.trail = ExecutionTrail(keep_executions)  # every command's execution, for the CLI and the console
        self.server: Any = None
        self.stack_session: Any = None
        self.dead_letters: Any = None  # queue_store.DeadLetterKeeper, with a state dir
        self.loaded: dict[str, int] = {}
        self.startup_seconds = 0.0
        self._stopped = threading.Event()
        self._started = False
        self._saved_env: dict[str, str] | None = None
        self.token_key: bytes | None = None  # signs and checks local tokens (chronicle.local.tokens)

    @property
    def url(self) -> str:
        port = self.server.port if self.server else self.port
        return f"http://{self.host}:{port}"

    def token(self, actor: str) -> str:
        """A local token for `actor` (what `chronicle token --actor` prints for this runtime's state dir)."""
        from . import tokens

        assert self.token_key is not None, "start() first"
        return tokens.issue(self.token_key, actor)

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
        if not self.ephemeral:
            from .statedir import StateDir

            # First of all: a second runtime on the same directory stops here, naming the first one (before the
            # port checks: it usually wants the first one's port too).
            self.statedir = StateDir(self.state_dir).acquire()
        self._saved_env = dict(os.environ)
        checked = None
        try:
            if self.statedir is not None:
                from .snapshot import check_state

                # Before anything reads it (kms.json is read by the stack builder): every file intact, or refused.
                checked = check_state(self.statedir)
            # Checked before anything starts: werkzeug (the emulator's server) exits the process on a taken port.
            _check_free(self.host, self.port, "--port")
            _check_free(self.host, self.aws_port, "--aws-port")
            moto_patches.check()  # every moto internal the runtime replaces is still there, as expected
            self.emulator = Emulator(self.host, self.aws_port, cors_origins=self.cors_origins).start()
            _clear_process_caches()
            # moto's DynamoDB is not atomic under threads (two conditional writers can both win): serialize it, so
            # the local event store keeps the guarantees DynamoDB gives in AWS (docs/eventstore.md).
            moto_atomic.install()
            registry = self.registry = seam.HandlerRegistry()
            self.dispatcher = seam.install(registry)
            session = self.stack_session = boto3.session.Session(region_name=REGION)
            overrides = self.parameter_overrides()
            from .kms_keys import KeyRing

            key_ring = KeyRing(None if self.ephemeral else self.state_dir / "kms.json")
            self.stack = build_stack(self.template_path, session=session, stack_name=STACK_NAME,
                                     parameter_overrides=overrides, key_ring=key_ring)
            os.environ.update(self.stack.environment)
            for name, spec in self.stack.handlers.items():
                registry.register(name, spec)

            if self.statedir is not None:
                from .durable import DurableState

                self.durable = DurableState(
                    self.statedir, list(self.stack.tables.values()), list(self.stack.buckets.values()),
                    event_table=self.stack.environment.get("EVENT_TABLE"), compact_bytes=self.compact_bytes,
                    # an erased user's data key: gone from the disk before EraseUserPersonalData answers
                    scrub_tables=[t for t in [self.stack.environment.get("KEYS_TABLE")] if t])
                keeper = self._keep_sections()
                self.loaded = self.durable.load(checked)
                self.durable.start()
                keeper.install()
                durable = self.durable
                keeper.append = lambda record: durable.journal and durable.journal.append(record)
                self.trail.journal = lambda record: durable.journal and durable.journal.append({"x": record})
                self.emulator.after_write = self.durable.sync
                self.emulator.fence = self.fence
                seam.on_delivered(self.durable.mark_published)

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
            runner = CommandRunner(session, self.stack.state_machines, STACK_NAME, trail=self.trail,
                                   # read-your-writes: this command's events projected (not everyone's)
                                   after_success=lambda: dispatcher.wait_for(dispatcher.ticket(),
                                                                             self.settle_timeout))
            if self.stack.queue_consumers:
                from .queues import QueuePoller

                self.poller = QueuePoller(session.client("sqs"), self.stack.queue_consumers)
                self.poller.start()
            if self.stack.stream_consumers:
                from .streams import StreamPoller

                self.streams = StreamPoller(session.client("dynamodbstreams"), session.client("sqs"),
                                            self.stack.stream_consumers)
                self.streams.start()
            from . import tokens

            self.token_key = secrets.token_bytes(32) if self.ephemeral else tokens.load_key(self.state_dir)
            with _naming_the_port(self.host, self.port, "--port"):
                self.server = LocalServer(self.host, self.port, runner, graphql, self.health,
                                          before_answer=self.durable.sync if self.durable else None,
                                          token_key=self.token_key, fence=self.fence,
                                          cors_origins=self.cors_origins)
            self.server.console = self._console(session, graphql)
            if graphql is not None:
                from .websocket import GraphQLWebSocket

                self.websocket = GraphQLWebSocket(graphql, graphql.hub)
                self.server.websocket_handler = self.websocket
            if self.durable is not None:
                self._republish()
            self.server.start()
            if self.watch:
                from .watch import start_watching

                self.watcher = start_watching(self)
            if self.statedir is not None:
                self.statedir.set_owner(port=self.server.port, awsPort=self.emulator.port)
        except BaseException:
            self.stop(save=False)
            raise
        self._started = True
        self.startup_seconds = time.monotonic() - t0
        return self

    def _keep_sections(self) -> Any:
        """The execution trail and the dead-letter queues, journaled with the rest of the state (durable.py)."""
        from .queue_store import DeadLetterKeeper

        trail = self.trail
        self.durable.add_section("executions", "x", trail.snapshot, trail.restore,
                                 lambda record: trail.add(record, journal=False))
        dead_letters = {str(r.physical_id).rpartition("/")[2] for r in self.stack.of_type("AWS::SQS::Queue")
                        if "DeadLetter" in r.logical_id}
        keeper = self.dead_letters = DeadLetterKeeper(dead_letters)
        self.durable.add_section("deadLetters", "q", keeper.capture, keeper.restore,
                                 lambda value: keeper.restore({value[0]: value[1]}))
        return keeper

    def _console(self, session: Any, graphql: Any) -> Any:
        from .console_api import Console

        sfn, cache, machines = session.client("stepfunctions"), {}, self.stack.state_machines

        def definition(name: str) -> dict[str, Any] | None:
            if name not in cache and name in machines:
                cache[name] = json.loads(sfn.describe_state_machine(stateMachineArn=machines[name])["definition"])
            return cache.get(name)

        from .console_data import ConsoleData
        from .console_pages import Pages

        console = Console(self.trail, self.admins, definition)
        console.pages = Pages(console, ConsoleData(self))
        return console
    def parameter_overrides(self) -> dict[str, str] | None:
        overrides = dict(self.parameters)
        if self.admins:
            overrides["AdminActorIds"] = ",".join(self.admins)
        return overrides or None

    def _republish(self) -> None:
        """Publish again what the store holds and the bus never delivered (a crash between append and publish,
        or events in flight): the projections are idempotent, so repeating is safe."""
        from chronicle import aws
        from chronicle.commands import publish

        lagging = self.durable.lagging_streams()
        if not lagging:
            return
        store, events, bus = aws.event_store(), aws.client("events"), aws.env("EVENT_BUS")
        for stream in lagging:
            try:
                publish({"stream": stream}, store, events, bus)
                self.republished.append(stream)
            except Exception:  # noqa: BLE001 - the next start tries again; the log says which
                log.exception("re-publishing %s failed", stream)
        log.info("re-published %d streams the bus had not delivered", len(self.republished))
        self.dispatcher.wait_idle(self.settle_timeout)

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

    def fence(self) -> tuple[int, dict[str, Any]] | None:
        """Once a journal write or sync failed: the answer every request gets (but GET /health), else None."""
        failure = self.durable.failure if self.durable is not None else None
        return None if failure is None else storage_failure(failure)

    def health(self) -> dict[str, Any]:
        stack = self.stack
        fenced = self.fence()
        return {
            "status": "ok" if fenced is None else "failed",
            **({} if fenced is None else {"reason": fenced[1]["message"], "error": fenced[1]["error"]}),
            "awsEndpoint": self.emulator.endpoint if self.emulator else None,
            "stateDir": None if self.ephemeral else str(self.state_dir),
            "stateMachines": sorted(stack.state_machines) if stack else [],
            "functions": sorted(stack.handlers) if stack else [],
            "tables": stack.tables if stack else {},
            "events": {"delivered": self.dispatcher.delivered, "failed": self.dispatcher.failed}
            if self.dispatcher else {},
            "queues": {"processed": self.poller.processed, "failed": self.poller.failed} if self.poller else {},
            "streams": {"delivered": self.streams.delivered, "failed": self.streams.failed} if self.streams else {},
            "journal": {"records": self.durable.journal.records, "fsyncs": self.durable.journal.syncs,
                        "checkpoints": self.durable.checkpoints, "republishedStreams": len(self.republished)}
            if self.durable and self.durable.journal else None,
        }

    def stop(self, save: bool = True) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.watcher is not None:
            self.watcher.stop()
        if self.websocket is not None:
            self.websocket.close_all()
        if self.server is not None:
            # Stop accepting, let running requests finish (each syncs before it answers), refuse what comes after.
            self.server.stop(drain_timeout=self.drain_timeout)
        if self.poller is not None:
            self.poller.stop()
        if self.streams is not None:
            self.streams.stop()
        if self.dispatcher is not None:
            self.dispatcher.wait_idle(self.settle_timeout)
        if self.dead_letters is not None:
            self.dead_letters.uninstall()
        if self.durable is not None:
            try:
                # The last durable point; a request still running after the drain gets 503 instead of a 200.
                self.durable.close(checkpoint=save and self._started)
            except Exception:  # noqa: BLE001
                log.exception("saving local state on shutdown failed")
        seam.uninstall()
        moto_atomic.uninstall()
        if self.emulator is not None:
            self.emulator.stop()
        if self.statedir is not None:
            self.statedir.release()
        if self._saved_env is not None:  # leave the process environment as we found it
            for key in set(os.environ) - set(self._saved_env):
                del os.environ[key]
            os.environ.update(self._saved_env)
            _clear_process_caches()

    def wait(self) -> None:
        """Block until :meth:`stop` (from a signal handler or another thread)."""
        while not self._stopped.wait(0.5):
            pass

    def tool(self, name: str) -> str:
        """How to run one of this environment's programs from the project root, with no activated venv:
        .venv/bin/<name> when the running interpreter's venv is inside the project, else <name>."""
        import sys

        path = Path(sys.executable).parent / name
        try:
            return path.relative_to(self.root).as_posix() if path.exists() else name
        except ValueError:
            return str(path) if path.exists() else name

    def aws_examples(self) -> list[str]:
        """Commands that work as printed from the project root, with no AWS CLI, configuration or activated venv
        (tests run them so): the endpoint through boto3, which `make setup` installs, and a rebuild."""
        tables = self.stack.tables if self.stack else {}
        client = (f"boto3.client('dynamodb', endpoint_url='{self.aws_endpoint}', region_name='{REGION}', "
                  "aws_access_key_id='local', aws_secret_access_key='local')")
        return [
            f"  {self.tool('python')} -c \"import boto3; print({client}.list_tables()['TableNames'])\"",
            f"  {self.tool('chronicle')} projections rebuild --endpoint-url {self.aws_endpoint} "
            f"--event-table {tables.get('EventStoreTable')} --read-model-table {tables.get('ProjectReadModelTable')}",
        ]

    def sync_example(self) -> str:
        """StartSyncExecution as API Gateway calls it; botocore's `sync-` host prefix is turned off (it would not
        resolve for 127.0.0.1; chronicle.local.sync_execution)."""
        arn = (self.stack.state_machines if self.stack else {}).get(f"{STACK_NAME}-command-CreateProject", "")
        execution_input = json.dumps({"commandType": "CreateProject", "actorId": "alice", "requestId": "banner",
                                      "body": json.dumps({"data": {"name": "Sync", "ownerId": "alice"}})})
        return (f"  AWS_DISABLE_HOST_PREFIX_INJECTION=true AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "
                f"aws --endpoint-url {self.aws_endpoint} --region {REGION} stepfunctions start-sync-execution "
                f"--state-machine-arn {arn} --input '{execution_input}'")

    def banner(self) -> str:
        lines = [
            "Chronicle local runtime",
            f"  Command API  {self.url}/commands/<CommandType>",
            f"  GraphQL      {self.graphql_url}",
            f"  Subscribe    {self.graphql_url.replace('http://', 'ws://')}   (graphql-transport-ws)",
            f"  Health       {self.url}/health",
            f"  Console      {self.url}/console   (executions, streams, read models, dead letters, schemas)",
            f"  AWS endpoint {self.aws_endpoint}   (any region and key: no AWS account or configuration needed)",
            f"  Tables       {', '.join(self.stack.tables.values()) if self.stack else ''}",
            f"  Admins       {', '.join(self.admins) or '(none: chronicle local --admin ID)'}",
            f"  State        {'ephemeral (nothing kept)' if self.ephemeral else self.state_dir}"
            + (f"  (loaded {sum(self.loaded.values())} items/objects, {self.durable.replayed} journal records"
               f"{f', re-published {len(self.republished)} streams' if self.republished else ''})"
               if self.durable and (self.loaded or self.durable.replayed) else ""),
            f"  Watching     {'src/ functions/ schemas/ statemachine/ template.yaml (edits reload)' if self.watcher else 'off (chronicle local --watch reloads edits)'}",
            f"  Started in   {self.startup_seconds:.1f} s",
            "",
            "Try:",
            f"  curl -s -X POST {self.url}/commands/CreateProject -H 'content-type: application/json' "
            "-H 'X-Actor-Id: alice' -d '{\"data\":{\"name\":\"Demo\",\"ownerId\":\"alice\"}}'",
            *self.aws_examples(),
            self.sync_example(),
            "",
            "Ready.",
        ]
        return "\n".join(lines)
