"""``chronicle executions ... --aws``: the command executions of a deployed stack, from its workflows' log group.

The command workflows are Express state machines: Step Functions keeps no history of their executions, so
ListExecutions and GetExecutionHistory have nothing to show. What there is, is the log group the state machines log
to (``/aws/vendedlogs/states/<stack>-commands``), one JSON log event per history event::

    {"id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn"}

at the stack parameter ``WorkflowLogLevel``: with ``ERROR`` (the default) only failures are there (the execution's
error and cause, the failed task's); with ``ALL`` every state with its input and output. This module groups the
log events by execution and condenses them as the local trail does (chronicle.local.trail.condense).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

_END = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT",
        "ExecutionAborted": "ABORTED"}


def log_group(stack: str) -> str:
    return f"/aws/vendedlogs/states/{stack}-commands"


def _history_event(record: dict[str, Any]) -> dict[str, Any]:
    """A log event as a GetExecutionHistory event (what condense reads)."""
    stamp = int(record.get("event_timestamp") or 0)
    return {"type": record.get("type", ""), "timestamp": datetime.fromtimestamp(stamp / 1000, tz=UTC),
            "logEventDetails": record.get("details") or {}}


def _command_type(execution_arn: str) -> str:
    """arn:aws:states:<region>:<account>:express:<stack>-command-<Type>:<name>:<id> -> <Type>."""
    parts = execution_arn.split(":")
    machine = parts[6] if len(parts) > 6 else ""
    return machine.rpartition("-command-")[2] or machine


def read_events(logs: Any, group: str, since_minutes: float, pattern: str | None = None,
                limit_events: int = 10_000) -> OrderedDict[str, list[dict[str, Any]]]:
    """Log events of the last ``since_minutes``, grouped by execution ARN, in time order."""
    request: dict[str, Any] = {"logGroupName": group, "startTime": int((time.time() - since_minutes * 60) * 1000)}
    if pattern:
        request["filterPattern"] = pattern
    grouped: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    seen = 0
    while seen < limit_events:
        page = logs.filter_log_events(**request)
        for event in page.get("events", []):
            seen += 1
            try:
                record = json.loads(event["message"])
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("execution_arn"):
                grouped.setdefault(record["execution_arn"], []).append(record)
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    return grouped


def execution(arn: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    from chronicle.local.trail import condense

    records = sorted(records, key=lambda r: (int(r.get("event_timestamp") or 0), int(r.get("id") or 0)))
    first, last = records[0], records[-1]
    ended = next((r for r in reversed(records) if r.get("type") in _END), None)
    details = (ended or {}).get("details") or {}
    started = int(first.get("event_timestamp") or 0)
    stopped = int(last.get("event_timestamp") or 0)
    return {"executionArn": arn, "name": arn.split(":")[-2] if arn.count(":") >= 8 else arn.rpartition(":")[2],
            "commandType": _command_type(arn), "status": _END.get((ended or {}).get("type"), "UNKNOWN"),
            "startDate": datetime.fromtimestamp(started / 1000, tz=UTC).isoformat(),
            "stopDate": datetime.fromtimestamp(stopped / 1000, tz=UTC).isoformat(), "durationMs": stopped - started,
            "actorId": None, "error": details.get("error"), "cause": details.get("cause"),
            "input": ((first.get("details") or {}).get("input") if first.get("type") == "ExecutionStarted" else None),
            "output": details.get("output"), "sealed": False,
            "states": condense([_history_event(r) for r in records])}


def listing(logs: Any, group: str, since_minutes: float, command: str | None, status: str | None,
            limit: int) -> list[dict[str, Any]]:
    found = [execution(arn, records) for arn, records in read_events(logs, group, since_minutes).items()]
    found.sort(key=lambda e: e["startDate"], reverse=True)
    return [e for e in found if (not command or e["commandType"] == command)
            and (not status or e["status"] == status)][:limit]


def show(logs: Any, group: str, since_minutes: float, ident: str) -> dict[str, Any] | None:
    grouped = read_events(logs, group, since_minutes, pattern=f'"{ident}"')
    for arn, records in grouped.items():
        if ident in arn:
            return execution(arn, records)
    return None
