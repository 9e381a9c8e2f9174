"""Drive each command type through a running local runtime and turn the metered units into dollars.

    with metered_runtime(root) as (runtime, meter):
        costs = measure(runtime, meter, runs=5)
    print(render(costs, load_prices()))

Per command type: the units of its own path (the API request, the workflow, the workflow's Lambdas and what they
call), the units it causes downstream (projections: shown, not compared), and the design's minimum: one Express
execution of the workflow, one invocation of each Lambda on its success path, one write per event as a conditional
PutItem (1 KB units of the event as stored), one consistent read of the stream it decides on (non-create commands),
one PutEvents entry per event, plus the sample's `extra_minimum`.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chronicle.cost import units as u
from chronicle.cost.meter import IDLE, LOGS, Meter, MotoItems, Usage
from chronicle.cost.samples import COST_ADMIN, SAMPLES, Sample, fill, placeholders

COMMAND_PREFIX = "-command-"
ACTOR = "cost-bench"  # the samples' default X-Actor-Id


@dataclass
class CommandCost:
    command: str
    runs: int
    units: dict[str, float]  # per command, mean over the runs: the command's own path
    downstream: dict[str, float]  # per command: what it caused after the workflow (projections)
    calls: dict[str, float]  # per command: requests of the command's path by "service:Operation"
    minimum: dict[str, float]
    logs: dict[str, float] = field(default_factory=dict)  # per command: what the logging configuration ingests


# ---- the stack as billed ---------------------------------------------------------------------------------
def lambda_functions(definition: dict[str, Any], success_path_only: bool) -> list[str]:
    """Function names of the Lambda tasks of an ASL definition: all of them (each once), or those of the Task
    states on the success path (following Next/Default/Choices, not Catch; a name once per state)."""
    found: list[str] = []

    def function_of(state: dict[str, Any]) -> str | None:
        resource = state.get("Resource", "")
        if resource.startswith("arn:aws:states:::lambda:invoke"):
            name = (state.get("Parameters") or {}).get("FunctionName") or (state.get("Arguments") or {}).get(
                "FunctionName")
        elif ":lambda:" in resource:
            name = resource
        else:
            return None
        return str(name).split(":function:")[-1].split(":")[0] if name else None

    def walk(machine: dict[str, Any]) -> None:
        states = machine.get("States", {})
        todo, seen = [machine.get("StartAt")], set()
        if not success_path_only:
            todo = list(states)
        while todo:
            name = todo.pop()
            if name in seen or name not in states:
                continue
            seen.add(name)
            state = states[name]
            fn = function_of(state) if state.get("Type") == "Task" else None
            if fn and (success_path_only or fn not in found):
                found.append(fn)  # on the success path: once per Task state (one function may serve two states)
            for branch in state.get("Branches", []):
                walk(branch)
            inner = state.get("ItemProcessor") or state.get("Iterator")
            if inner:
                walk(inner)
            if success_path_only:
                todo += [state.get("Next"), state.get("Default")] + [c.get("Next") for c in state.get("Choices", [])]

    walk(definition)
    return found


def stack_billing(runtime: Any) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, bool]]]:
    """(function name -> architecture, state machine name -> type, state machine name -> (log level, with data))
    from template.yaml, as deployed."""
    from chronicle.local.stack import _merge_globals, load_template

    template = load_template(runtime.template_path)
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    architectures, machine_types, logging = {}, {}, {}
    for logical_id, resource in runtime.stack.resources.items():
        declared = template["Resources"].get(logical_id, {})
        props = declared.get("Properties") or {}
        if resource.type == "AWS::Serverless::Function" and resource.physical_id:
            architectures[resource.physical_id] = (_merge_globals(globals_fn, props).get("Architectures")
                                                   or ["x86_64"])[0]
        elif resource.type in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            name = resource.attributes.get("Name")
            if name:
                machine_types[name] = str(props.get("Type", props.get("StateMachineType", "STANDARD")))
                config = props.get("Logging") or props.get("LoggingConfiguration") or {}
                logging[name] = _logging_setting(template, config)
    return architectures, machine_types, logging


def _logging_setting(template: dict[str, Any], config: dict[str, Any]) -> tuple[str, bool]:
    """(Level, IncludeExecutionData) as deployed with the parameters' defaults (WorkflowLogLevel): a Ref is the
    parameter's Default, an !If on the level logs execution data only at ALL."""
    level = config.get("Level", "OFF")
    if isinstance(level, dict) and "Ref" in level:
        level = ((template.get("Parameters") or {}).get(level["Ref"]) or {}).get("Default", "OFF")
    data = config.get("IncludeExecutionData", False)
    if isinstance(data, dict):
        data = level == "ALL"
    return str(level), bool(data)


@contextlib.contextmanager
def metered_runtime(root: str | Path | None = None) -> Iterator[tuple[Any, Meter]]:
    """An ephemeral LocalRuntime (COST_ADMIN a bootstrap admin) whose every client and Lambda invocation is metered."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from chronicle.local.account import ACCOUNT_ID, REGION
    from chronicle.local.runtime import LocalRuntime

    meter = Meter({}, {}, MotoItems(ACCOUNT_ID, REGION)).install()  # before any client exists
    runtime = LocalRuntime(root=root, port=0, ephemeral=True, admins=[COST_ADMIN])
    try:
        runtime.start()
        meter.architectures, meter.machine_types, meter.machine_logging = stack_billing(runtime)
        yield runtime, meter
    finally:
        runtime.stop(save=False)
        meter.uninstall()


# ---- measuring -----------------------------------------------------------------------------------------
def post(runtime: Any, command: str, body: dict[str, Any], actor: str = ACTOR) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{runtime.url}/commands/{command}", data=json.dumps(body).encode(),
                                     method="POST", headers={"content-type": "application/json", "X-Actor-Id": actor})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


class Driver:
    """Runs samples, creating the streams their placeholders need."""

    def __init__(self, runtime: Any, samples: dict[str, Sample]) -> None:
        from chronicle.domain import AGGREGATES

        self.runtime = runtime
        self.samples = samples
        self.ids: dict[str, str] = {}
        self.creators = {t: sorted(a.create_commands)[0] for t, a in AGGREGATES.items() if a.create_commands}
        self.create_commands = {c for a in AGGREGATES.values() for c in a.create_commands}
        self.n = 0

    def run(self, command: str, n: int, command_id: str | None = None) -> dict[str, Any]:
        sample = self.samples[command]
        for needed in sorted((placeholders(sample.body) | placeholders(sample.actor)) - set(self.ids)):
            self.run(self.creators[needed], self.next_n())
        request = fill(sample.body, self.ids, n)
        if command_id is not None:
            request["commandId"] = command_id
        status, body = post(self.runtime, command, request, fill(sample.actor, self.ids, n))
        if status != 200:
            raise RuntimeError(f"the {command} sample was refused ({status}): {body}")
        if command in self.create_commands:  # "{<AggregateType>}" names the newest stream of that type
            self.ids[body["aggregateType"]] = body["aggregateId"]
        return body

    def prepared(self, command: str, n: int, run: bool = True) -> dict[str, Any] | None:
        """Run the sample's `before` steps (and, with `run`, the sample itself)."""
        for step in self.samples[command].before:
            self.run(step, n)
        return self.run(command, n) if run else None

    def next_n(self) -> int:
        self.n += 1
        return self.n


def command_types(runtime: Any) -> list[str]:
    """Every command type the stack has a workflow for (`<stack>-command-<T>`)."""
    return sorted(name.split(COMMAND_PREFIX, 1)[1] for name in runtime.stack.state_machines if COMMAND_PREFIX in name)


def definition(runtime: Any, command: str) -> dict[str, Any]:
    from chronicle.local.stack import STACK_NAME

    import boto3

    arn = runtime.stack.state_machines[f"{STACK_NAME}{COMMAND_PREFIX}{command}"]
    sfn = boto3.session.Session(region_name="us-east-1").client("stepfunctions", endpoint_url=runtime.aws_endpoint)
    return json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])


def measure(runtime: Any, meter: Meter, commands: list[str] | None = None, runs: int = 5,
            samples: dict[str, Sample] | None = None, client_ids: bool = False) -> list[CommandCost]:
    """Each command type's cost, `runs` times; with `client_ids`, each again with a client commandId (a row
    "<T> +commandId": the idempotency record it keeps, compared with the same minimum)."""
    samples = samples or SAMPLES
    commands = commands or command_types(runtime)
    missing = [c for c in commands if c not in samples]
    if missing:
        raise KeyError(f"no cost sample for {missing}: add one to chronicle/cost/samples.py")
    driver = Driver(runtime, samples)
    for command in commands:  # warm: handler modules import on their first invoke
        driver.prepared(command, driver.next_n())
    results = []
    for command in commands:
        machine = definition(runtime, command)
        own = set(lambda_functions(machine, success_path_only=False)) | {""}
        on_path = lambda_functions(machine, success_path_only=True)
        for keyed in (False, True) if client_ids else (False,):
            total, minimum = Usage(), Counter()
            for _ in range(runs):
                n = driver.next_n()
                driver.prepared(command, n, run=False)
                before = meter.snapshot()
                response = driver.run(command, n, command_id=f"cost-{uuid.uuid4()}" if keyed else None)
                used = meter.snapshot() - before
                total.units.update(used.units)
                total.calls.update(used.calls)
                minimum.update(design_minimum(runtime, meter, command, response, used, on_path, samples[command]))
            units = {k: v / runs for k, v in _by_unit(total.units, own.__contains__).items()}
            downstream = {k: v / runs for k, v in
                          _by_unit(total.units, lambda o, own=own: o not in own and o not in (IDLE, LOGS)).items()}
            logs = {k: v / runs for k, v in _by_unit(total.units, LOGS.__eq__).items()}
            calls = {k: v / runs for k, v in _by_unit(total.calls, own.__contains__).items()}
            results.append(CommandCost(command + (" +commandId" if keyed else ""), runs, units, downstream, calls,
                                       {k: v / runs for k, v in minimum.items()}, logs))
    return results


def _by_unit(counter: Counter, keep: Any) -> dict[str, float]:
    out: Counter = Counter()
    for (origin, unit), quantity in counter.items():
        if keep(origin):
            out[unit] += quantity
    return dict(out)


def design_minimum(runtime: Any, meter: Meter, command: str, response: dict[str, Any], used: Usage,
                   on_path: list[str], sample: Sample) -> Counter:
    """The least this command could bill, with this run's own measured durations and event sizes."""
    from chronicle.commands import event_bridge_entries
    from chronicle.domain import aggregate_for_command
    from chronicle.eventstore.items import from_item

    table, bus = runtime.stack.environment["EVENT_TABLE"], runtime.stack.environment["EVENT_BUS"]
    minimum: Counter = Counter({"apigateway.requests": 1, "states.express_requests": 1})
    minimum["states.express_gb_seconds"] = used.units.get(("", "states.express_gb_seconds"), 0)
    for fn, states in Counter(on_path).items():  # one invocation per Task state, at this run's mean duration
        invocations = used.units.get((fn, "lambda.requests"), 0)
        needed = min(states, invocations)  # fewer: a state on a branch of a Choice this request did not take
        if not needed:
            continue
        arch = meter.architectures.get(fn, "x86_64")
        minimum["lambda.requests"] += needed
        minimum[f"lambda.gb_seconds_{arch}"] += used.units.get((fn, f"lambda.gb_seconds_{arch}"), 0) / invocations \
            * needed
    aggregate_id = response["aggregateId"]
    items = [meter.items.item(table, {"aggregateId": {"S": aggregate_id}, "eventSequence": {"N": str(e["eventSequence"])}})
             for e in response["events"]]
    for item in items:
        minimum["dynamodb.wru"] += u.write_units(u.item_size(item))
    for entry in event_bridge_entries([from_item(i) for i in items if i], bus):
        minimum["events.entries"] += u.chunks_64kb(u.event_entry_size(entry))
    if command not in aggregate_for_command(command).create_commands:
        first = min(e["eventSequence"] for e in response["events"]) if response["events"] else response["version"] + 1
        stream = sum(u.item_size(meter.items.item(table, {"aggregateId": {"S": aggregate_id},
                                                          "eventSequence": {"N": str(s)}}))
                     for s in range(1, first))
        minimum["dynamodb.rru"] += u.read_units(stream)
    minimum.update(sample.extra_minimum)
    return minimum


# ---- reporting -----------------------------------------------------------------------------------------
COLUMNS = [("API", ["apigateway.requests"], "{:.0f}"), ("SFN req", ["states.express_requests"], "{:.0f}"),
           ("SFN GB-s", ["states.express_gb_seconds"], "{:.4f}"), ("SFN tr", ["states.standard_transitions"], "{:.0f}"),
           ("λ inv", ["lambda.requests"], "{:.0f}"),
           ("λ GB-s", ["lambda.gb_seconds_arm64", "lambda.gb_seconds_x86_64"], "{:.4f}"),
           ("WRU", ["dynamodb.wru"], "{:.1f}"), ("RRU", ["dynamodb.rru"], "{:.1f}"), ("EB", ["events.entries"], "{:.0f}"),
           ("SQS", ["sqs.requests"], "{:.0f}"), ("S3 A", ["s3.class_a_requests"], "{:.0f}"),
           ("S3 B", ["s3.class_b_requests"], "{:.0f}"), ("KMS", ["kms.requests"], "{:.0f}")]


def per_million(units: dict[str, float], prices: dict[str, float]) -> float:
    return u.dollars(units, prices) * 1_000_000


def shares(units: dict[str, float], prices: dict[str, float]) -> dict[str, float]:
    total = u.dollars(units, prices) or 1.0
    out: Counter = Counter()
    for unit, quantity in units.items():
        out[u.SERVICES[u.service_of(unit)]] += quantity * prices[unit] / total
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def render(costs: list[CommandCost], prices: dict[str, float], markdown: bool = False) -> str:
    """The cost table: per command type its units and $ per million, the minimum's beside it, and the ratio."""
    columns = [c for c in COLUMNS if any(sum(x.units.get(k, 0) + x.minimum.get(k, 0) for k in c[1])
                                         for x in costs)]
    head = ["command", *[c[0] for c in columns], "$ / M", "min $ / M", "ratio"]
    rows = []
    for cost in costs:
        mine, least = per_million(cost.units, prices), per_million(cost.minimum, prices)
        rows.append([cost.command, *[c[2].format(sum(cost.units.get(k, 0) for k in c[1])) for c in columns],
                     f"{mine:.2f}", f"{least:.2f}", f"{mine / least:.2f}" if least else "-"])
        rows.append(["  minimum", *[c[2].format(sum(cost.minimum.get(k, 0) for k in c[1])) for c in columns],
                     "", "", ""])
    lines = _table(head, rows, markdown)
    lines.append("")
    for cost in costs:
        share = " · ".join(f"{service} {part:.0%}" for service, part in shares(cost.units, prices).items())
        dynamo = ", ".join(f"{call.split(':', 1)[1]} {n:g}" for call, n in sorted(cost.calls.items())
                           if call.startswith("dynamodb:"))
        downstream = per_million(cost.downstream, prices)
        lines.append(f"{cost.command}: {share}")
        lines.append(f"    DynamoDB requests: {dynamo or 'none'}; downstream (projections, not in the ratio): "
                     f"${downstream:.2f} / M ({_brief(cost.downstream)})")
        logged = cost.logs.get("logs.ingested_gb", 0)
        if logged:
            lines.append(f"    workflow logs (its Logging configuration, not in the ratio): {logged * u.GB / 1024:.1f} KB, "
                         f"${per_million(cost.logs, prices):.2f} / M")
    return "\n".join(lines)


def _brief(units: dict[str, float]) -> str:
    names = {"lambda.requests": "λ inv", "dynamodb.wru": "WRU", "dynamodb.rru": "RRU", "events.entries": "EB",
             "sqs.requests": "SQS"}
    return ", ".join(f"{names[k]} {v:g}" for k, v in sorted(units.items()) if k in names) or "nothing"


def _table(head: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|",
                *("| " + " | ".join(r) + " |" for r in rows)]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths, strict=True)))
    return [fmt(head), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


SECONDS_PER_MONTH = 30 * 24 * 3600


def monthly(costs: list[CommandCost], prices: dict[str, float], rate_per_second: float,
            mix: dict[str, float] | None = None) -> dict[str, Any]:
    """Dollars a month at `rate_per_second` commands, split by `mix` (weights by command type; default equal)."""
    by_name = {c.command: c for c in costs}
    mix = mix or {c.command: 1.0 for c in costs}
    unknown = sorted(set(mix) - set(by_name))
    if unknown:
        raise KeyError(f"no measurement for {unknown}; measured: {sorted(by_name)}")
    weight = sum(mix.values())
    commands = rate_per_second * SECONDS_PER_MONTH
    own = sum(u.dollars(by_name[c].units, prices) * w for c, w in mix.items()) / weight * commands
    down = sum(u.dollars(by_name[c].downstream, prices) * w for c, w in mix.items()) / weight * commands
    least = sum(u.dollars(by_name[c].minimum, prices) * w for c, w in mix.items()) / weight * commands
    logs = sum(u.dollars(by_name[c].logs, prices) * w for c, w in mix.items()) / weight * commands
    services: Counter = Counter()
    for c, w in mix.items():
        for unit, quantity in by_name[c].units.items():
            services[u.SERVICES[u.service_of(unit)]] += quantity * prices[unit] * w / weight * commands
    return {"commandsPerMonth": commands, "commandPath": own, "downstream": down, "minimum": least, "logs": logs,
            "byService": dict(services.most_common())}
