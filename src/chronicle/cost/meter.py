"""Count every billable unit the local runtime's AWS requests would incur on AWS.

Where the units come from (no tally is written by hand per command):
- every botocore client of the process (handlers', the local command runner's, moto's Step Functions interpreter's)
  gets `before-parameter-build` / `after-call` handlers: `botocore.session.Session.create_client` is wrapped while
  the meter is installed, so clients created then are hooked. The request and the parsed answer give the units.
- Lambda invocations: moto funnels every invoke into the seam (chronicle.local.seam.invoke_in_process), which the
  meter wraps to time the handler in process (so durations are this machine's, not Lambda's) and to know which
  function is running on the thread: every unit is recorded against that *origin* ("" outside any function: the
  API and the workflow itself).
- the API Gateway request: the local command route (chronicle.local.server.CommandRunner.run) is wrapped.

DynamoDB units need item sizes the request does not show (the item a conditional write replaces, the full items a
projected Query read): those are looked up in moto's backend directly, which is not a request and costs nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chronicle.cost import units as u

POLLER_THREAD_PREFIX = "chronicle-sqs-"  # chronicle.local.queues: the event source's idle polling
IDLE = "(event source polling)"
LOGS = "(logs)"  # what the stack's logging configuration ingests: reported apart from the command's path


@dataclass
class Usage:
    """Units and calls by origin: {(origin, unit): quantity}, {(origin, "service:Operation"): count}."""

    units: Counter = field(default_factory=Counter)
    calls: Counter = field(default_factory=Counter)

    def __sub__(self, other: Usage) -> Usage:
        units = Counter({k: v - other.units.get(k, 0) for k, v in self.units.items()})
        calls = Counter({k: v - other.calls.get(k, 0) for k, v in self.calls.items()})
        return Usage(Counter({k: v for k, v in units.items() if v}), Counter({k: v for k, v in calls.items() if v}))


class MotoItems:
    """Items as stored in moto's DynamoDB backend (wire format), for sizes a request does not carry."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id, self.region = account_id, region

    @property
    def backend(self) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.account_id][self.region]  # looked up each time: a reset replaces it

    def table(self, name: str) -> Any:
        try:
            return self.backend.get_table(name)
        except Exception:  # noqa: BLE001 - a table that does not exist: the request failed, no item
            return None

    def item(self, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        table = self.table(table_name)
        if table is None:
            return None
        keys = {a: key[a] for a in (table.hash_key_attr, table.range_key_attr) if a and a in key}
        try:
            found = self.backend.get_item(table_name, keys)
        except Exception:  # noqa: BLE001 - an invalid key: DynamoDB refused the request
            return None
        return found.to_json()["Attributes"] if found is not None else None

    def index_sizes(self, table_name: str, item: dict[str, Any] | None) -> list[tuple[str, Any, int]]:
        """(index, its key value, projected size) for each global index the item appears in."""
        table = self.table(table_name)
        if table is None or not item:
            return []
        table_keys = [a for a in (table.hash_key_attr, table.range_key_attr) if a]
        out = []
        for index in table.global_indexes:
            names = [k["AttributeName"] for k in index.schema]
            if not all(n in item for n in names):
                continue
            projection = index.projection or {}
            kind = projection.get("ProjectionType", "ALL")
            keep = None if kind == "ALL" else set(names + table_keys + projection.get("NonKeyAttributes", []))
            projected = item if keep is None else {k: v for k, v in item.items() if k in keep}
            out.append((index.name, tuple(str(item[n]) for n in names), u.item_size(projected)))
        return out


class Meter:
    def __init__(self, architectures: dict[str, str], machine_types: dict[str, str], items: MotoItems) -> None:
        self.architectures = architectures  # function name -> "arm64" | "x86_64"
        self.machine_types = machine_types  # state machine name -> "EXPRESS" | "STANDARD"
        self.items = items
        self.usage = Usage()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._seen_executions: set[str] = set()
        self._restore: list[tuple[Any, str, Any]] = []
        self._create_client: Any = None
        self._raw_dynamodb: Any = None
        self._raw_stepfunctions: Any = None
        self.machine_logging: dict[str, tuple[str, bool]] = {}  # name -> (Logging.Level, IncludeExecutionData)

    # ---- recording ---------------------------------------------------------------------------------
    def origin(self) -> str:
        current = getattr(self._local, "function", None)
        if current is not None:
            return current
        return IDLE if threading.current_thread().name.startswith(POLLER_THREAD_PREFIX) else ""

    def add(self, unit: str, quantity: float, origin: str | None = None) -> None:
        if quantity:
            with self._lock:
                self.usage.units[(self.origin() if origin is None else origin, unit)] += quantity

    def call(self, name: str) -> None:
        with self._lock:
            self.usage.calls[(self.origin(), name)] += 1

    def snapshot(self) -> Usage:
        with self._lock:
            return Usage(Counter(self.usage.units), Counter(self.usage.calls))

    # ---- install -----------------------------------------------------------------------------------
    def install(self) -> Meter:
        import botocore.session

        from chronicle.local import seam, server

        meter = self
        create_client = self._create_client = botocore.session.Session.create_client

        def hooked_create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = create_client(session, *args, **kwargs)
            client.meta.events.register("before-parameter-build", meter._before)
            client.meta.events.register("after-call", meter._after)
            return client

        invoke = seam.invoke_in_process

        def metered_invoke(registry: Any, fn: Any, event: Any) -> tuple[str, bool, str]:
            name = fn.function_name
            outer = getattr(meter._local, "function", None)
            meter._local.function = name
            started = time.perf_counter()
            try:
                return invoke(registry, fn, event)
            finally:
                seconds = time.perf_counter() - started
                memory = int(getattr(fn, "memory_size", 128) or 128)
                arch = meter.architectures.get(name, "x86_64")
                meter.add("lambda.requests", 1)
                meter.add(f"lambda.gb_seconds_{arch}", u.lambda_gb_seconds(memory, seconds))
                meter.call(f"lambda:Invoke {name}")
                meter._local.function = outer

        run = server.CommandRunner.run

        def metered_run(runner: Any, *args: Any, **kwargs: Any) -> Any:
            meter.add("apigateway.requests", 1, origin="")
            meter.call("apigateway:POST /commands/{commandType}")
            return run(runner, *args, **kwargs)

        for owner, name, replacement in ((botocore.session.Session, "create_client", hooked_create_client),
                                         (seam, "invoke_in_process", metered_invoke),
                                         (server.CommandRunner, "run", metered_run)):
            self._restore.append((owner, name, getattr(owner, name)))
            setattr(owner, name, replacement)
        return self

    def uninstall(self) -> None:
        while self._restore:
            owner, name, original = self._restore.pop()
            setattr(owner, name, original)

    # ---- botocore handlers -------------------------------------------------------------------------
    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.service_model.service_name == "dynamodb":
            # the items a write replaces or checks, before the write (their size is what the write bills)
            context["chronicle_cost"] = (dict(params), self._old_items(model.name, params))
        else:
            context["chronicle_cost"] = (dict(params), None)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any],
               **_: Any) -> None:
        params, old = context.get("chronicle_cost", ({}, None))
        service, op = model.service_model.service_name, model.name
        handler = getattr(self, f"_{service.replace('-', '_')}", None)
        if service == "lambda":
            return  # invocations are counted in the seam, where they run; the rest of the API is free
        if handler is not None:
            handler(op, params, parsed or {}, old)
        if service in ("dynamodb", "stepfunctions", "events", "sqs", "s3", "kms"):
            self.call(f"{service}:{op}")

    # Step Functions: an Express execution is one request plus its duration; a Standard one bills transitions.
    def _stepfunctions(self, op: str, params: dict, parsed: dict, old: Any) -> None:
        if op in ("StartExecution", "StartSyncExecution"):
            name = params["stateMachineArn"].rsplit(":", 1)[-1]
            if self.machine_types.get(name, "STANDARD") == "EXPRESS":
                self.add("states.express_requests", 1)
            if op == "StartSyncExecution" and "stopDate" in parsed:
                self._execution_ended(parsed, name)
        elif op == "DescribeExecution" and parsed.get("status") not in (None, "RUNNING"):
            self._execution_ended(parsed, parsed["stateMachineArn"].rsplit(":", 1)[-1])

    def _execution_ended(self, parsed: dict, machine: str) -> None:
        arn = parsed.get("executionArn", "")
        with self._lock:
            if arn in self._seen_executions:
                return
            self._seen_executions.add(arn)
        start, stop = parsed["startDate"], parsed["stopDate"]
        seconds = (stop - start).total_seconds() if isinstance(start, datetime) else float(stop) - float(start)
        history = self._history(arn)
        if self.machine_types.get(machine) == "EXPRESS":
            self.add("states.express_gb_seconds", u.express_gb_seconds(seconds), origin="")
        else:
            self.add("states.standard_transitions",
                     sum(1 for e in history if str(e.get("type", "")).endswith("StateEntered")), origin="")
        level, with_data = self.machine_logging.get(machine, ("OFF", False))
        logged = u.state_machine_log_bytes(history, arn, level, with_data)
        self.add("logs.ingested_gb", logged / u.GB, origin=LOGS)

    def _history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The execution's events, read with a client that is not metered (reading them is not the command's)."""
        if self._raw_stepfunctions is None:
            import botocore.session

            self._raw_stepfunctions = self._create_client(
                botocore.session.get_session(), "stepfunctions",
                region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        try:
            pages = self._raw_stepfunctions.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
            return [event for page in pages for event in page["events"]]
        except Exception:  # noqa: BLE001 - no history kept: count nothing rather than guess
            return []

    def _events(self, op: str, params: dict, parsed: dict, old: Any) -> None:
        if op == "PutEvents":
            self.add("events.entries", sum(u.chunks_64kb(u.event_entry_size(e)) for e in params.get("Entries", [])))

    def _sqs(self, op: str, params: dict, parsed: dict, old: Any) -> None:
        if op == "SendMessage":
            size = len(str(params.get("MessageBody", "")).encode())
        elif op == "SendMessageBatch":
            size = sum(len(str(e.get("MessageBody", "")).encode()) for e in params.get("Entries", []))
        else:
            size = 0
        self.add("sqs.requests", u.chunks_64kb(size))

    def _s3(self, op: str, params: dict, parsed: dict, old: Any) -> None:
        if op.startswith(("Delete", "Abort")):
            return  # DELETE and CANCEL requests are free
        class_a = op.startswith(("Put", "Copy", "Post", "List", "Create", "Complete", "Upload", "Restore"))
        self.add("s3.class_a_requests" if class_a else "s3.class_b_requests", 1)

    def _kms(self, op: str, params: dict, parsed: dict, old: Any) -> None:
        self.add("kms.requests", 1)

    # ---- DynamoDB ------------------------------------------------------------------------------------
    def _old_items(self, op: str, params: dict) -> list[dict | None] | None:
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            key = params.get("Item") or params.get("Key") or {}
            return [self.items.item(params["TableName"], key)]
        if op == "TransactWriteItems":
            olds = []
            for entry in params.get("TransactItems", []):
                (kind, body), = entry.items()
                olds.append(self.items.item(body["TableName"], body.get("Item") or body.get("Key") or {}))
            return olds
        if op == "BatchWriteItem":
            return [self.items.item(table, (r.get("PutRequest") or {}).get("Item")
                                    or (r.get("DeleteRequest") or {}).get("Key") or {})
                    for table, requests in params.get("RequestItems", {}).items() for r in requests]
        return None

    def _dynamodb(self, op: str, params: dict, parsed: dict, old: list | None) -> None:
        if op in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"):
            self._dynamodb_writes(op, params, old)
        else:
            self._dynamodb_reads(op, params, parsed)

    def _dynamodb_writes(self, op: str, params: dict, old: list | None) -> None:
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            self._write(params["TableName"], op, params, old[0] if old else None, transactional=False)
        elif op == "TransactWriteItems":
            for entry, before in zip(params.get("TransactItems", []), old or [], strict=False):
                (kind, body), = entry.items()
                self._write(body["TableName"], kind, body, before, transactional=True)
        else:  # BatchWriteItem
            befores = iter(old or [])
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        self._write(table, "Put", request["PutRequest"], next(befores), False)
                    else:
                        self._write(table, "Delete", request["DeleteRequest"], next(befores), False)

    def _dynamodb_reads(self, op: str, params: dict, parsed: dict) -> None:
        if op == "GetItem":
            item = parsed.get("Item")
            if item is not None and "ProjectionExpression" in params:
                item = self.items.item(params["TableName"], params["Key"])
            self.add("dynamodb.rru", u.read_units(u.item_size(item), params.get("ConsistentRead", False)))
        elif op in ("Query", "Scan"):
            # A Query bills the size of every item it read (projection or not), rounded up once per request.
            items = parsed.get("Items", [])
            if "ProjectionExpression" in params or params.get("Select") not in (None, "ALL_ATTRIBUTES"):
                items = self._full_items(op, params)
            self.add("dynamodb.rru", u.read_units(sum(u.item_size(i) for i in items),
                                                  params.get("ConsistentRead", False)))
        elif op == "BatchGetItem":
            for table, responses in parsed.get("Responses", {}).items():
                consistent = params.get("RequestItems", {}).get(table, {}).get("ConsistentRead", False)
                for item in responses:
                    self.add("dynamodb.rru", u.read_units(u.item_size(item), consistent))
        elif op == "TransactGetItems":
            for response in parsed.get("Responses", []):
                self.add("dynamodb.rru", u.read_units(u.item_size(response.get("Item")), transactional=True))

    def _full_items(self, op: str, params: dict) -> list[dict]:
        """The whole items a projected Query/Scan read: the same request without the projection, on a client
        that is not metered."""
        if self._raw_dynamodb is None:
            import botocore.session

            self._raw_dynamodb = self._create_client(botocore.session.get_session(), "dynamodb",
                                                     region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        request = {k: v for k, v in params.items() if k not in ("ProjectionExpression", "Select")}
        names = request.get("ExpressionAttributeNames")
        if names:  # names only the projection used would be refused as unused
            used = " ".join(str(request.get(k, "")) for k in ("KeyConditionExpression", "FilterExpression"))
            request["ExpressionAttributeNames"] = {k: v for k, v in names.items() if k in used}
            if not request["ExpressionAttributeNames"]:
                del request["ExpressionAttributeNames"]
        return getattr(self._raw_dynamodb, "query" if op == "Query" else "scan")(**request).get("Items", [])

    def _write(self, table: str, kind: str, body: dict, before: dict | None, transactional: bool) -> None:
        """One item write (or ConditionCheck): the larger of the item before and after, in 1 KB units."""
        after = body.get("Item") if kind in ("Put", "PutItem") else None
        if kind in ("Update", "UpdateItem"):
            after = self.items.item(table, body.get("Key") or {})  # as the update left it
        if kind in ("Delete", "DeleteItem"):
            after = None
        size = max(u.item_size(before), u.item_size(after))
        self.add("dynamodb.wru", u.write_units(size, transactional))
        if kind == "ConditionCheck":
            return
        # Each global index the item enters, leaves or changes in is written too (standard units).
        old_index = {name: (key, size) for name, key, size in self.items.index_sizes(table, before)}
        for name, key, index_size in self.items.index_sizes(table, after):
            previous = old_index.pop(name, None)
            self.add("dynamodb.wru", u.write_units(index_size))
            if previous is not None and previous[0] != key:
                self.add("dynamodb.wru", u.write_units(previous[1]))  # the old index entry is deleted
        for _, index_size in old_index.values():
            self.add("dynamodb.wru", u.write_units(index_size))
