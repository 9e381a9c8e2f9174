"""AWS billing arithmetic and the price table (on-demand, us-east-1).

Each function turns what a request carried into the units AWS bills for it. Sizes follow the services' documented
rules: a DynamoDB item is its attribute names plus values; write units are 1 KB, read units 4 KB (an eventually
consistent read half price), items in a transaction count twice; an EventBridge entry or SQS payload is billed per
64 KB chunk; Lambda bills GB-seconds at 1 ms, Express workflows at 100 ms and 64 MB steps.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

KB = 1024
GB = 1024**3
CHUNK_64KB = 64 * KB

# USD per unit, first pricing tier, on-demand, us-east-1. Recorded on PRICES_DATE from the AWS price pages as
# last published (the newest change in this table: DynamoDB on-demand throughput halved on 2024-11-01). They were
# not fetched by this code: pass a JSON file of {unit: price} (`--prices`) to use other figures or a region.
PRICES_DATE = "2026-11-30"
PRICES_REGION = "us-east-1"
PRICES: dict[str, float] = {
    "apigateway.requests": 3.50e-6,            # REST API, first 333 million a month
    "states.express_requests": 1.00e-6,        # Express workflow requests
    "states.express_gb_seconds": 0.00001667,   # Express duration, first 1,000 GB-hours ($0.06 / GB-hour)
    "states.standard_transitions": 0.000025,   # Standard workflow state transitions
    "lambda.requests": 0.20e-6,
    "lambda.gb_seconds_arm64": 0.0000133334,
    "lambda.gb_seconds_x86_64": 0.0000166667,
    "dynamodb.wru": 0.625e-6,                  # on-demand write request unit
    "dynamodb.rru": 0.125e-6,                  # on-demand read request unit
    "events.entries": 1.00e-6,                 # PutEvents, custom events, per 64 KB chunk
    "sqs.requests": 0.40e-6,                   # standard queue, per 64 KB chunk
    "s3.class_a_requests": 0.005 / 1000,       # PUT, COPY, POST, LIST
    "s3.class_b_requests": 0.0004 / 1000,      # GET and the rest
    "kms.requests": 0.03 / 10000,
    "logs.ingested_gb": 0.50,                  # CloudWatch Logs ingestion (vended logs: first 10 TB)
}

SERVICES = {"apigateway": "API Gateway", "states": "Step Functions", "lambda": "Lambda", "dynamodb": "DynamoDB",
            "events": "EventBridge", "sqs": "SQS", "s3": "S3", "kms": "KMS", "logs": "CloudWatch Logs"}


def load_prices(path: str | Path | None = None) -> dict[str, float]:
    """The price table, with the entries of a JSON file `{unit: usd}` replacing the built-in ones."""
    prices = dict(PRICES)
    if path is not None:
        override = json.loads(Path(path).read_text())
        unknown = sorted(set(override) - set(PRICES))
        if unknown:
            raise ValueError(f"{path}: unknown price units {unknown}; known: {sorted(PRICES)}")
        prices.update({unit: float(value) for unit, value in override.items()})
    return prices


def dollars(units: dict[str, float], prices: dict[str, float]) -> float:
    return sum(quantity * prices[unit] for unit, quantity in units.items())


def service_of(unit: str) -> str:
    return unit.split(".", 1)[0]


# ---- DynamoDB ------------------------------------------------------------------------------------------
def attribute_value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value (AttributeValue wire format), DynamoDB's documented rule."""
    (kind, raw), = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = raw.lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_value_size({kind[0]: v}) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_value_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(attribute_value_size(v) + 1 for v in raw)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, dict[str, Any]] | None) -> int:
    """An item's size: every attribute name plus its value. None (no item) is 0."""
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_value_size(value) for name, value in item.items())


def write_units(size: int, transactional: bool = False) -> int:
    """Write request units of one item write of `size` bytes: 1 KB units, at least 1; twice in a transaction."""
    units = max(1, math.ceil(size / KB))
    return units * 2 if transactional else units


def read_units(size: int, consistent: bool = True, transactional: bool = False) -> float:
    """Read request units of one read of `size` bytes (an item, or a Query's items together): 4 KB units, at
    least 1; eventually consistent half; transactional twice."""
    units = max(1, math.ceil(size / (4 * KB)))
    if transactional:
        return units * 2.0
    return float(units) if consistent else units / 2


# ---- EventBridge, SQS ----------------------------------------------------------------------------------
def event_entry_size(entry: dict[str, Any]) -> int:
    """PutEvents entry size as AWS computes it: Time (14 bytes), Source, DetailType, Detail, Resources."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        if entry.get(key) is not None:
            size += len(str(entry[key]).encode())
    size += sum(len(r.encode()) for r in entry.get("Resources") or [])
    return size


def chunks_64kb(size: int) -> int:
    """EventBridge entries and SQS requests are billed per 64 KB chunk, at least one."""
    return max(1, math.ceil(size / CHUNK_64KB))


# ---- Lambda, Step Functions ----------------------------------------------------------------------------
def lambda_gb_seconds(memory_mb: int, seconds: float) -> float:
    """Lambda bills duration at 1 ms granularity, times the configured memory."""
    return memory_mb / 1024 * math.ceil(seconds * 1000) / 1000


def express_gb_seconds(seconds: float, memory_mb: int = 64) -> float:
    """Express workflows bill duration in 100 ms steps at memory rounded up to 64 MB steps (64 MB at least;
    the memory an execution uses grows with its definition and payload sizes, a few KB here)."""
    billed_s = max(1, math.ceil(round(seconds * 1000, 6) / 100)) / 10
    billed_mb = max(1, math.ceil(memory_mb / 64)) * 64
    return billed_mb / 1024 * billed_s


# ---- CloudWatch Logs -----------------------------------------------------------------------------------
LOG_EVENT_OVERHEAD = 26  # CloudWatch Logs bills each log event's message plus 26 bytes
_FAILURES = ("Failed", "TimedOut", "Aborted")


def state_machine_log_bytes(history: list[dict[str, Any]], execution_arn: str, level: str,
                            include_data: bool) -> int:
    """Bytes a state machine's logging configuration ingests for one execution: one log event per history event
    (ALL), or per failure event (ERROR, FATAL: execution failures only), as Step Functions writes them
    ({id, type, details, previous_event_id, event_timestamp, execution_arn}); without IncludeExecutionData, the
    details carry no input or output."""
    total = 0
    for event in history:
        kind = str(event.get("type", ""))
        if level == "OFF" or (level in ("ERROR", "FATAL") and not kind.endswith(_FAILURES)) \
                or (level == "FATAL" and not kind.startswith("Execution")):
            continue
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        if not include_data:
            details = {k: v for k, v in details.items() if k not in ("input", "output", "inputDetails",
                                                                     "outputDetails")}
        record = {"id": str(event.get("id", "")), "type": kind, "details": details,
                  "previous_event_id": str(event.get("previousEventId", 0)),
                  "event_timestamp": "1764460800000", "execution_arn": execution_arn}
        total += len(json.dumps(record, separators=(",", ":"), default=str).encode()) + LOG_EVENT_OVERHEAD
    return total
