"""Lambda code in-process and EventBridge -> Lambda delivery: the local runtime's seam into moto.

moto (pinned, see pyproject) runs Lambda code only in Docker. Every invoke it makes — a Step Functions
``lambda:invoke`` Task, a direct ``Invoke`` API call, an S3/SQS/EventBridge notification — funnels through one
method::

    moto.awslambda.models.LambdaFunction._invoke_lambda(self, event) -> (payload_json, errored, logs)

:func:`install` replaces it with an in-process call of the function's *real* handler
(``<CodeUri>/<module>.py``, attribute from ``Handler``), so the deployed code runs unchanged.

A second, smaller gap: moto's EventBridge ``Rule.send_to_targets`` raises ``NotImplementedError`` for Lambda
targets. :func:`install` wraps it so Lambda targets are delivered asynchronously (as in AWS) by a single
dispatcher thread, with a few retries and the target's ``DeadLetterConfig`` (an SQS queue) at the end; other
targets go to moto's own code unchanged.

Its targets are registered with the runtime's other moto patches in chronicle.local.moto_patches, which checks
their signatures (at start, and here on install) and raises :class:`SeamError` (a ``MotoPatchError``) when moto
changed, so a moto upgrade that breaks the seam fails loudly (tests/integration/test_local_seam.py) instead of
silently running nothing. :func:`uninstall` restores the originals.

What the handler sees and returns, mirroring the AWS Python runtime:

- ``event``: the decoded JSON payload (moto hands ``_invoke_lambda`` the already-decoded body, or the raw
  string ``"{}"`` for an empty one; a string that is JSON is decoded once more);
- ``context``: :class:`LambdaContext` (function_name, memory_limit_in_mb, invoked_function_arn,
  aws_request_id, get_remaining_time_in_millis, ...);
- a return value is serialised with ``json.dumps``; an exception becomes
  ``{"errorType": type(exc).__name__, "errorMessage": str(exc), "requestId", "stackTrace"}`` with
  ``errored=True``, so an ASL ``Catch`` matches on ``errorType``.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import queue
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path
from types import ModuleType
from typing import Any
from collections.abc import Callable

from . import moto_patches

log = logging.getLogger("chronicle.local.seam")

# What the seam replaces in moto (registered, with the parameters it expects, in chronicle.local.moto_patches).
_LAMBDA_TARGET = "moto.awslambda.models:LambdaFunction._invoke_lambda"  # chronicle.local.moto_patches.TARGETS
_RULE_TARGET = "moto.events.models:Rule.send_to_targets"
_PUT_EVENTS = "moto.events.models:EventsBackend.put_events"


SeamError = moto_patches.MotoPatchError  # moto's internals are not what the seam was written against


@dataclass(frozen=True)
class HandlerSpec:
    """Where a function's code lives: ``code_dir`` (the template's CodeUri) and ``handler`` (``app.handler``)."""

    code_dir: Path
    handler: str
    timeout: int = 30
    memory_size: int = 128


@dataclass
class LambdaContext:
    """The subset of the Lambda context object handlers (and Powertools) use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    timeout_s: int = 30
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class HandlerRegistry:
    """function name -> :class:`HandlerSpec`, plus the imported handler callables (each module imported once,
    under a unique name so that several ``app.py`` files can coexist in one process)."""

    def __init__(self) -> None:
        self._specs: dict[str, HandlerSpec] = {}
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._lock = threading.RLock()

    def register(self, function_name: str, spec: HandlerSpec) -> None:
        with self._lock:
            self._specs[function_name] = spec
            self._handlers.pop(function_name, None)

    def spec(self, function_name: str) -> HandlerSpec | None:
        return self._specs.get(function_name)

    def specs(self) -> dict[str, HandlerSpec]:
        with self._lock:
            return dict(self._specs)

    def replace(self, specs: dict[str, HandlerSpec], handlers: dict[str, Callable[..., Any]]) -> None:
        """Serve these (already loaded) handlers from now on (``chronicle local --watch``)."""
        with self._lock:
            self._specs, self._handlers = dict(specs), dict(handlers)

    def __contains__(self, function_name: str) -> bool:
        return function_name in self._specs

    def handler(self, function_name: str) -> Callable[..., Any]:
        with self._lock:
            if function_name not in self._handlers:
                self._handlers[function_name] = self._load(function_name, self._specs[function_name])
            return self._handlers[function_name]

    @staticmethod
    def _load(function_name: str, spec: HandlerSpec) -> Callable[..., Any]:
        module_path, _, attr = spec.handler.rpartition(".")
        if not module_path or not attr:
            raise ValueError(f"{function_name}: Handler {spec.handler!r} is not <module>.<function>")
        file = spec.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
        if not file.is_file():
            raise FileNotFoundError(f"{function_name}: handler module {file} not found")
        name = f"chronicle_local_fn_{''.join(c if c.isalnum() else '_' for c in function_name)}"
        module_spec = importlib.util.spec_from_file_location(name, file)
        assert module_spec and module_spec.loader
        module: ModuleType = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        # As in Lambda, the code directory is importable while the module loads (sibling helper modules).
        sys.path.insert(0, str(spec.code_dir))
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            try:
                sys.path.remove(str(spec.code_dir))
            except ValueError:
                pass
        fn = getattr(module, attr, None)
        if not callable(fn):
            raise AttributeError(f"{function_name}: {file} has no callable {attr!r}")
        return fn


def _decode_event(event: Any) -> Any:
    if event is None:
        return {}
    if isinstance(event, (str, bytes)):
        try:
            return json.loads(event)
        except ValueError:
            return event
    return event


def error_payload(exc: BaseException, request_id: str = "") -> dict[str, Any]:
    """What the AWS Python runtime returns for an unhandled exception."""
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__)[1:][-5:],  # [1:]: drop the seam's own frame
    }


def invoke_in_process(registry: HandlerRegistry, fn: Any, event: Any) -> tuple[str, bool, str]:
    """Run the handler of moto function ``fn`` on ``event``; the ``_invoke_lambda`` contract."""
    name = fn.function_name
    request_id = str(uuid.uuid4())
    spec = registry.spec(name)
    if spec is None:
        err = {"errorType": "Runtime.HandlerNotFound", "errorMessage": f"no local handler for {name}"}
        return json.dumps(err), True, ""
    context = LambdaContext(
        function_name=name,
        invoked_function_arn=getattr(fn, "function_arn", f"arn:aws:lambda:::function:{name}"),
        memory_limit_in_mb=int(getattr(fn, "memory_size", spec.memory_size) or spec.memory_size),
        aws_request_id=request_id,
        timeout_s=int(getattr(fn, "timeout", spec.timeout) or spec.timeout),
    )
    try:
        handler = registry.handler(name)
        result = handler(_decode_event(event), context)
    except Exception as exc:  # noqa: BLE001 - every handler error is data for the caller
        log.debug("%s raised %s: %s", name, type(exc).__name__, exc)
        return json.dumps(error_payload(exc, request_id)), True, ""
    try:
        return json.dumps(result), False, ""
    except (TypeError, ValueError) as exc:
        err = {"errorType": "Runtime.MarshalError", "errorMessage": f"Unable to marshal response: {exc}"}
        return json.dumps(err), True, ""


# ---------------------------------------------------------------------------------------------------------
# EventBridge -> Lambda delivery


class EventDispatcher:
    """Delivers EventBridge events to Lambda targets, one at a time, in put order, off the caller's thread.

    AWS delivers asynchronously and retries; locally a failed delivery is retried ``attempts`` times with
    exponential backoff, then sent to the target's DeadLetterConfig queue (if any) and logged.
    """

    def __init__(self, attempts: int = 3, base_delay: float = 0.2) -> None:
        self.attempts = attempts
        self.base_delay = base_delay
        self._queue: queue.Queue[tuple[str, dict[str, Any], str | None] | Callable[[], Any] | None] = queue.Queue()
        self._pending = 0
        self._submitted = 0  # items ever submitted; they run in this order
        self._finished = 0  # items ever finished
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="chronicle-event-dispatcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def pending(self) -> int:
        """Deliveries submitted and not finished yet."""
        return self._pending

    def submit_call(self, call: Callable[[], Any]) -> None:
        """Run ``call`` on the dispatcher thread, after everything submitted before it (targets run locally by
        Chronicle itself, such as a rule's AppSync target)."""
        with self._cond:
            self._pending += 1
            self._submitted += 1
            self._queue.put(call)

    def submit(self, function_arn: str, event: dict[str, Any], dlq_arn: str | None) -> None:
        with self._cond:
            self._pending += 1
            self._submitted += 1
            self._queue.put((function_arn, event, dlq_arn))

    def ticket(self) -> int:
        """A mark after everything submitted so far (for :meth:`wait_for`)."""
        with self._cond:
            return self._submitted

    def wait_for(self, ticket: int, timeout: float = 5.0) -> bool:
        """Block until everything submitted before ``ticket`` was delivered (not what came after, as
        :meth:`wait_idle` would under load); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._finished < ticket:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every submitted event was delivered (or dead-lettered); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if callable(item):
                    item()
                else:
                    self._deliver(*item)
            except Exception:  # noqa: BLE001 - the dispatcher must survive anything
                log.exception("event delivery crashed")
            finally:
                with self._cond:
                    self._pending -= 1
                    self._finished += 1
                    self._cond.notify_all()

    def _deliver(self, function_arn: str, event: dict[str, Any], dlq_arn: str | None) -> None:
        body = json.dumps(event)
        last = ""
        for attempt in range(self.attempts):
            payload, errored = invoke_function(function_arn, body, "Event")
            if not errored:
                self.delivered += 1
                return
            last = payload
            log.warning("delivery of %s to %s failed (attempt %d): %s",
                        event.get("detail-type"), function_arn, attempt + 1, last[:500])
            time.sleep(self.base_delay * (2**attempt))
        self.failed += 1
        if dlq_arn:
            from moto.sqs.models import sqs_backends

            _, _, _, q_region, q_account, q_name = dlq_arn.split(":", 5)
            sqs_backends[q_account][q_region].send_message(q_name, body)
            log.error("event %s dead-lettered to %s", event.get("id"), dlq_arn)
        else:
            log.error("event %s to %s dropped after %d attempts: %s", event.get("id"), function_arn,
                      self.attempts, last[:500])


def invoke_function(function_arn: str, body: str, invocation_type: str = "RequestResponse") -> tuple[str, bool]:
    """Invoke a function through moto's Lambda backend (so the seam runs its handler): (payload, errored)."""
    from moto.awslambda.utils import get_backend

    region, account_id = function_arn.split(":")[3:5]
    response_headers: dict[str, str] = {}
    payload = get_backend(account_id, region).invoke(
        function_name=function_arn, qualifier=None, body=body,
        headers={"x-amz-invocation-type": invocation_type}, response_headers=response_headers)
    text = payload.decode() if isinstance(payload, bytes) else str(payload or "")
    return text, "x-amz-function-error" in response_headers


def _lambda_event(event: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """The event as EventBridge hands it to a Lambda target (ISO time, no moto-internal keys)."""
    if "Input" in target:
        return json.loads(target["Input"])
    out = {k: v for k, v in event.items() if k not in ("ingestion-time", "replay-name")}
    if isinstance(out.get("time"), (int, float)):
        out["time"] = datetime.fromtimestamp(out["time"], tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


# ---------------------------------------------------------------------------------------------------------
# install / uninstall

_installed: dict[str, Any] = {}
_install_lock = threading.Lock()
# rule name -> callbacks for targets moto cannot deliver and Chronicle runs itself (an AppSync target).
_rule_callbacks: dict[str, list[Callable[[dict[str, Any]], Any]]] = {}
_delivered_callbacks: list[Callable[[str, int], Any]] = []


def on_rule(rule_name: str, callback: Callable[[dict[str, Any]], Any]) -> None:
    """Call ``callback(event)`` on the dispatcher thread for each event rule ``rule_name`` matches."""
    _rule_callbacks.setdefault(rule_name, []).append(callback)


def on_delivered(callback: Callable[[str, int], Any]) -> None:
    """Call ``callback(aggregateId, eventSequence)`` on the dispatcher thread once a stored event the bus accepted
    has been handed to every target of every rule it matched (delivered, or dead-lettered after its retries).
    The dispatcher runs in put order, so a call queued right after PutEvents runs after those deliveries."""
    _delivered_callbacks.append(callback)


def _stored_event(entry: dict[str, Any]) -> tuple[str, int] | None:
    """(aggregateId, eventSequence) when a PutEvents entry carries a stored event (PublishEvents' Detail)."""
    try:
        detail = json.loads(entry.get("Detail") or "null")
    except ValueError:
        return None
    if isinstance(detail, dict) and isinstance(detail.get("aggregateId"), str) \
            and isinstance(detail.get("eventSequence"), int) and "eventId" in detail:
        return detail["aggregateId"], detail["eventSequence"]
    return None


def _resolve(key: str) -> tuple[type, Callable[..., Any]]:
    owner, _, original = moto_patches.original(key)
    return owner, original


def check() -> None:
    """Raise :class:`SeamError` if moto's internals are not what the seam replaces."""
    _resolve(_LAMBDA_TARGET)
    _resolve(_RULE_TARGET)
    _resolve(_PUT_EVENTS)


def install(registry: HandlerRegistry, dispatcher: EventDispatcher | None = None) -> EventDispatcher:
    """Patch moto so Lambda invokes run ``registry``'s handlers in-process and EventBridge rules deliver to
    Lambda targets through ``dispatcher`` (started here). Idempotent per process: a second install replaces
    the registry/dispatcher."""
    with _install_lock:
        if _installed:
            _uninstall_locked()
        lambda_cls, lambda_original = _resolve(_LAMBDA_TARGET)
        rule_cls, rule_original = _resolve(_RULE_TARGET)
        events_cls, put_events_original = _resolve(_PUT_EVENTS)
        dispatcher = dispatcher or EventDispatcher()
        dispatcher.start()

        def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
            return invoke_in_process(registry, self, event)

        def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
            local = _rule_callbacks.get(self.name)
            if local and self.event_pattern.matches_event(original_event):
                for callback in local:
                    dispatcher.submit_call(lambda callback=callback: callback(copy.deepcopy(original_event)))
            lambda_targets = [t for t in self.targets if ":lambda:" in t.get("Arn", "")]
            if not lambda_targets:
                return rule_original(self, original_event, transform_input)
            if not self.event_pattern.matches_event(original_event):
                return None
            for target in lambda_targets:
                dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
                dispatcher.submit(target["Arn"], _lambda_event(original_event, target), dlq)
            others = [t for t in self.targets if t not in lambda_targets]
            if others:
                shallow = copy.copy(self)
                shallow.targets = others
                rule_original(shallow, original_event, transform_input)
            return None

        def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            results = put_events_original(self, events)
            if _delivered_callbacks:
                for entry, result in zip(events, results, strict=False):
                    stored = None if result.get("ErrorCode") else _stored_event(entry)
                    for callback in _delivered_callbacks if stored else ():
                        dispatcher.submit_call(lambda callback=callback, stored=stored: callback(*stored))
            return results

        _invoke_lambda.__wrapped__ = lambda_original  # type: ignore[attr-defined]
        send_to_targets.__wrapped__ = rule_original  # type: ignore[attr-defined]
        lambda_cls._invoke_lambda = _invoke_lambda
        rule_cls.send_to_targets = send_to_targets
        put_events.__wrapped__ = put_events_original  # type: ignore[attr-defined]
        events_cls.put_events = put_events
        _installed.update(lambda_cls=lambda_cls, lambda_original=lambda_original, rule_cls=rule_cls,
                          rule_original=rule_original, events_cls=events_cls, put_events_original=put_events_original,
                          dispatcher=dispatcher)
        return dispatcher


def _uninstall_locked() -> None:
    if not _installed:
        return
    _installed["lambda_cls"]._invoke_lambda = _installed["lambda_original"]
    _installed["rule_cls"].send_to_targets = _installed["rule_original"]
    _installed["events_cls"].put_events = _installed["put_events_original"]
    _installed["dispatcher"].stop()
    _installed.clear()
    _rule_callbacks.clear()
    _delivered_callbacks.clear()


def uninstall() -> None:
    """Restore moto's original methods and stop the dispatcher (no-op when not installed)."""
    with _install_lock:
        _uninstall_locked()


def installed() -> bool:
    return bool(_installed)
