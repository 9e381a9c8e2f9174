"""The execution trail: every command's Step Functions execution, condensed and kept (what the console shows).

After a command's execution ended, :meth:`ExecutionTrail.capture` reads its history from the emulated Step Functions
(GetExecutionHistory) and keeps one record per execution::

    {"executionArn", "name", "commandType", "stateMachine", "status", "startDate", "stopDate", "durationMs",
     "actorId", "error", "cause", "input", "output", "sealed",
     "states": [{"name", "type", "enteredAt", "exitedAt", "durationMs", "input", "output", "retries",
                 "status", "error", "cause"}]}

Bounded: the newest ``keep`` (default 10,000) executions are kept; older ones are dropped, oldest first, and
counted in :attr:`ExecutionTrail.dropped`. Inputs and outputs longer than ``MAX_FIELD`` characters are cut (the
record says so). The emulator itself keeps only the last few executions of each state machine (its own copies
hold the whole interpreter state, ~100 KB each), so memory stays bounded under any load.

Personal data: the executions of User commands (RegisterUser, UpdateUserProfile, ...) carry e-mail addresses and
names. Their records keep the states, timings, retries and error codes, but no input, output or error message
(``"sealed": true``), and the emulator keeps none of them: erasing a user must not leave the data in clear in the
trail or behind the emulated endpoint (docs/decisions/0014).

Durable: with a state dir, each record is appended to the runtime's journal (``{"x": record}``) before the
command's answer leaves, and the whole trail is part of each checkpoint (durable.py sections).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

log = logging.getLogger("chronicle.local.trail")

KEEP = 10_000
MAX_FIELD = 16 * 1024
MOTO_KEEP = 20  # executions the emulator keeps per state machine (for describe-execution through the endpoint)
SEALED = "(sealed: personal data of a User command is not kept)"


def _user_commands() -> frozenset[str]:
    from chronicle.domain import AGGREGATES

    user = AGGREGATES.get("User")
    return frozenset(user.commands) if user else frozenset()


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _when(value: Any) -> Any:
    """A datetime from the client (datetime) or from the emulator's own history (ISO-8601 text)."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value


def _ms(start: Any, stop: Any) -> int | None:
    start, stop = _when(start), _when(stop)
    if isinstance(start, datetime) and isinstance(stop, datetime):
        return int((stop - start).total_seconds() * 1000)
    return None


def _cut(text: Any) -> Any:
    if isinstance(text, str) and len(text) > MAX_FIELD:
        return text[:MAX_FIELD] + f"... ({len(text) - MAX_FIELD} more characters not kept)"
    return text


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def condense(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history's states, in the order they were entered: input, output, duration, retries, error and cause."""
    states: list[dict[str, Any]] = []
    open_states: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for event in events:
        kind, details, at = event.get("type", ""), _details(event), event.get("timestamp")
        if kind.endswith("StateEntered"):
            current = {"name": details.get("name"), "type": kind[: -len("StateEntered")], "enteredAt": at,
                       "exitedAt": None, "input": _cut(details.get("input")), "output": None, "attempts": 0,
                       "status": "RUNNING", "error": None, "cause": None}
            states.append(current)
            open_states[current["name"]] = current
        elif kind.endswith("StateExited"):
            state = open_states.pop(details.get("name"), None)
            if state is not None:
                state.update(exitedAt=at, output=_cut(details.get("output")))
                if state["status"] == "RUNNING":
                    state["status"] = "SUCCEEDED"
        elif kind in ("TaskScheduled", "LambdaFunctionScheduled") and current is not None:
            current["attempts"] += 1
        elif kind.endswith("Failed") or kind.endswith("TimedOut"):
            target = current if current is not None else None
            if target is not None and not kind.startswith("Execution"):
                target.update(status="FAILED", error=details.get("error"), cause=_cut(details.get("cause")))
            elif kind.startswith("Execution") and target is not None and target["type"] == "Fail":
                target.update(status="FAILED", error=details.get("error"), cause=_cut(details.get("cause")),
                              exitedAt=at)
    for state in states:
        state["retries"] = max(0, state.pop("attempts") - 1)
        state["durationMs"] = _ms(state["enteredAt"], state["exitedAt"])
        state["enteredAt"], state["exitedAt"] = _iso(state["enteredAt"]), _iso(state["exitedAt"])
        if state["status"] == "FAILED" and state["exitedAt"] is not None and state["type"] != "Fail":
            state["status"] = "CAUGHT"  # failed, and a Catch moved on (or a retry succeeded: see retries)
    return states


def _seal(record: dict[str, Any]) -> dict[str, Any]:
    record.update(input=SEALED, output=SEALED if record.get("output") is not None else None, sealed=True)
    record["cause"] = _sealed_cause(record.get("cause"))
    for state in record["states"]:
        state["input"] = SEALED
        state["output"] = SEALED if state.get("output") is not None else None
        state["cause"] = _sealed_cause(state.get("cause"))
    return record


def _sealed_cause(cause: Any) -> Any:
    """Keep where it failed (error type, stack trace: code locations), never the message (it may quote data)."""
    if not isinstance(cause, str):
        return cause
    try:
        outer = json.loads(cause)
    except ValueError:
        return SEALED
    if not isinstance(outer, dict):
        return SEALED
    return json.dumps({"errorType": outer.get("errorType"), "errorMessage": SEALED,
                       "stackTrace": outer.get("stackTrace")})


class ExecutionTrail:
    def __init__(self, keep: int = KEEP) -> None:
        self.keep = max(1, keep)
        self.dropped = 0  # executions forgotten because newer ones filled the trail
        self._records: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._user_commands = _user_commands()
        self.journal: Callable[[dict[str, Any]], None] | None = None  # durable.py: appends {"x": record}

    # -- capture ------------------------------------------------------------------------------------
    def capture(self, sfn: Any, execution_arn: str, command_type: str, actor_id: str) -> dict[str, Any] | None:
        """Read the ended execution from the emulated Step Functions and keep it; None if it cannot be read."""
        try:
            desc, events = _read_in_process(execution_arn) or _read_through(sfn, execution_arn)
        except Exception:  # noqa: BLE001 - the trail must never fail a command
            log.exception("could not read execution %s", execution_arn)
            return None
        record = {
            "executionArn": execution_arn, "name": desc.get("name"), "commandType": command_type,
            "stateMachine": desc.get("stateMachineArn", "").rpartition(":")[2], "status": desc.get("status"),
            "startDate": _iso(desc.get("startDate")), "stopDate": _iso(desc.get("stopDate")),
            "durationMs": _ms(desc.get("startDate"), desc.get("stopDate")), "actorId": actor_id,
            "error": desc.get("error"), "cause": _cut(desc.get("cause")), "input": _cut(desc.get("input")),
            "output": _cut(desc.get("output")), "sealed": False, "states": condense(events),
        }
        personal = command_type in self._user_commands
        if personal:
            _seal(record)
        self.add(record)
        # the emulator's own copy of a User command's execution holds its body in clear: none is left there
        _forget_in_emulator(desc.get("stateMachineArn", ""), 0 if personal else MOTO_KEEP, self.captured)
        return record

    def captured(self, execution_arn: str) -> bool:
        """Whether the trail holds this execution: only then may the emulator forget it (its command answered)."""
        with self._lock:
            return execution_arn in self._records

    def add(self, record: dict[str, Any], journal: bool = True) -> None:
        with self._lock:
            self._records[record["executionArn"]] = record
            self._records.move_to_end(record["executionArn"])
            while len(self._records) > self.keep:
                self._records.popitem(last=False)
                self.dropped += 1
            if journal and self.journal is not None:
                try:
                    self.journal(record)
                except Exception:  # noqa: BLE001 - a failed journal fences the runtime; the command's own sync says so
                    log.warning("execution %s not journaled", record["executionArn"], exc_info=True)

    # -- read ---------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._records)

    def list(self, command: str | None = None, status: str | None = None, limit: int = 50,
             visible: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """Newest first, without the states and the bodies."""
        with self._lock:
            records = list(reversed(self._records.values()))
        out = []
        for record in records:
            if (command and record["commandType"] != command) or (status and record["status"] != status):
                continue
            if visible is not None and not visible(record):
                continue
            out.append({k: record.get(k) for k in ("executionArn", "name", "commandType", "status", "startDate",
                                                   "stopDate", "durationMs", "actorId", "error", "sealed")})
            if len(out) >= limit:
                break
        return out

    def command_types(self) -> set[str]:
        with self._lock:
            return {r["commandType"] for r in self._records.values()}

    def get(self, ident: str) -> dict[str, Any] | None:
        """By ARN or by its last part (the execution name)."""
        with self._lock:
            record = self._records.get(ident)
            if record is None:
                name = ident.rpartition(":")[2]
                record = next((r for r in reversed(self._records.values()) if r["name"] == name), None)
            return record

    # -- durability (durable.py section "executions") ------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records.values())

    def restore(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self.add(record, journal=False)


_FORGET_LOCK = threading.Lock()  # one trim at a time: the executions list is shared by every command's thread


def _backend() -> Any:
    """The emulator's Step Functions backend (the one executing the ASL)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from .account import ACCOUNT_ID, REGION

    return stepfunctions_parser_backends[ACCOUNT_ID][REGION]


def _read_in_process(execution_arn: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The execution and its history straight from the emulator's backend: the client's JSON serializing of a
    whole history cost about as much as the rest of a command. None when the backend cannot be read so."""
    try:
        execution = _backend().describe_execution(execution_arn)
        return _plain(dict(execution.to_describe_output())), _plain(list(execution.to_history_output()["events"]))
    except Exception:  # noqa: BLE001 - another moto: read through the API instead
        log.debug("execution %s read through the API", execution_arn, exc_info=True)
        return None


def _read_through(sfn: Any, execution_arn: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    desc = sfn.describe_execution(executionArn=execution_arn)
    return desc, sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def _plain(value: Any) -> Any:
    """Enums (moto's status and event types) as their values, the rest as it is."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _forget_in_emulator(state_machine_arn: str, keep: int = MOTO_KEEP,
                        captured: Callable[[str], bool] = lambda _arn: True) -> None:
    """Drop all but the newest ``keep`` ended executions of a state machine from the emulator (bounded memory).
    Only executions the trail already captured go: another command's ended execution may not be described yet
    (its thread is about to read its outcome), and must still be there when it asks."""
    try:
        backend = _backend()
        machine = backend.describe_state_machine(state_machine_arn)
        with _FORGET_LOCK:
            executions = machine.executions
            ended = [e for e in list(executions) if e.status != "RUNNING" and captured(str(e.exec_arn))]
            for execution in ended[: max(0, len(ended) - keep)]:
                executions.remove(execution)
    except Exception:  # noqa: BLE001 - best effort: only memory is at stake
        log.debug("could not trim the emulator's executions of %s", state_machine_arn, exc_info=True)


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler :func:`console_logging` installed (so a second call replaces it)."""


def console_logging(stream: Any = None, verbose: bool = False) -> logging.Handler:
    """The ``chronicle local`` console's execution trail, without -v: each 500 as an ERROR with the handler's
    traceback and execution ARN, each refusal as one INFO line with its code (``verbose`` adds each 200).

    The trail logger gets its own handler and does not propagate: the handlers' Powertools logger ("chronicle",
    JSON to stdout) would otherwise take its records."""
    handler = _ConsoleHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for old in [h for h in log.handlers if isinstance(h, _ConsoleHandler)]:
        log.removeHandler(old)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
    return handler
