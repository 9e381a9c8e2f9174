"""`chronicle executions --aws`: a deployed stack's Express executions, read from the workflows' log group (Step
Functions keeps none), in the JSON shape Step Functions writes there (one history event per log event)."""

from __future__ import annotations

import json
import time

import boto3

from chronicle.cli import main

GROUP = "/aws/vendedlogs/states/chronicle-commands"
ARN = "arn:aws:states:us-east-1:123456789012:express:chronicle-command-CreateProject:{}:{}"


def log_event(arn: str, n: int, kind: str, details: dict, at: int) -> dict:
    message = {"id": str(n), "type": kind, "details": details, "previous_event_id": str(n - 1),
               "event_timestamp": str(at), "execution_arn": arn}
    return {"timestamp": at, "message": json.dumps(message)}


def put(logs, events: list[dict]) -> None:
    logs.put_log_events(logGroupName=GROUP, logStreamName="states/chronicle-command-CreateProject/x",
                        logEvents=sorted(events, key=lambda e: e["timestamp"]))


def printed_json(out: str) -> dict:
    return json.JSONDecoder().raw_decode(out[out.index("{\n"):])[0]


def test_list_and_show_read_the_log_group(aws, capsys):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="states/chronicle-command-CreateProject/x")
    now = int(time.time() * 1000)
    ok, failed = ARN.format("req-1", "u1"), ARN.format("req-2", "u2")
    cause = json.dumps({"errorType": "KeyError", "errorMessage": "'ownerId'", "stackTrace": ["  File app.py"]})
    put(logs, [  # at WorkflowLogLevel ALL: every state
        log_event(ok, 1, "ExecutionStarted", {"input": '{"commandType": "CreateProject"}'}, now - 5000),
        log_event(ok, 2, "TaskStateEntered", {"name": "ValidateCommand", "input": "{}"}, now - 4990),
        log_event(ok, 3, "TaskStateExited", {"name": "ValidateCommand", "output": '{"a": 1}'}, now - 4980),
        log_event(ok, 4, "TaskStateEntered", {"name": "DecideAndAppend", "input": '{"a": 1}'}, now - 4980),
        log_event(ok, 5, "TaskStateExited", {"name": "DecideAndAppend", "output": "{}"}, now - 4900),
        log_event(ok, 6, "ExecutionSucceeded", {"output": '{"version": 1}'}, now - 4890),
        # at ERROR (the default): a failure only
        log_event(failed, 9, "ExecutionFailed", {"error": "InternalError", "cause": cause}, now - 1000),
    ])
    assert main(["executions", "list", "--aws", "--region", "us-east-1", "--json"]) == 0
    found = printed_json(capsys.readouterr().out)["executions"]
    assert [(e["name"], e["status"], e["commandType"]) for e in found] == [
        ("req-2", "FAILED", "CreateProject"), ("req-1", "SUCCEEDED", "CreateProject")]
    assert main(["executions", "list", "--aws", "--region", "us-east-1", "--status", "FAILED"]) == 0
    listed = capsys.readouterr().out
    assert failed in listed and ok not in listed

    assert main(["executions", "show", ok, "--aws", "--region", "us-east-1"]) == 0
    shown = capsys.readouterr().out
    assert [line.split()[1] for line in shown.splitlines() if line.startswith("- ")] == [
        "ValidateCommand", "DecideAndAppend"]
    assert main(["executions", "show", failed, "--aws", "--region", "us-east-1", "--json"]) == 0
    record = printed_json(capsys.readouterr().out)
    assert (record["status"], record["error"], record["cause"]) == ("FAILED", "InternalError", cause)
    assert main(["executions", "show", ARN.format("nope", "u3"), "--aws", "--region", "us-east-1"]) == 1
    assert "WorkflowLogLevel ERROR" in capsys.readouterr().err
