"""The execution trail (chronicle.local.trail): bounded, User command bodies not kept, states condensed from the
Step Functions history in the order they were entered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chronicle.local.trail import SEALED, ExecutionTrail, condense


def at(ms: int) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def record(n: int, command: str = "CreateProject", status: str = "SUCCEEDED") -> dict:
    return {"executionArn": f"arn:aws:states:us-east-1:1:execution:sm:{n}", "name": str(n), "commandType": command,
            "status": status, "startDate": None, "stopDate": None, "durationMs": 1, "actorId": "a", "error": None,
            "sealed": False, "states": []}


def test_only_the_newest_are_kept_and_the_dropped_are_counted():
    trail = ExecutionTrail(keep=3)
    journaled = []
    trail.journal = journaled.append
    for n in range(5):
        trail.add(record(n))
    assert [e["name"] for e in trail.list()] == ["4", "3", "2"]
    assert (len(trail), trail.dropped) == (3, 2) and len(journaled) == 5
    assert trail.get("0") is None and trail.get("arn:aws:states:us-east-1:1:execution:sm:4")["name"] == "4"


def test_filters_and_limit():
    trail = ExecutionTrail()
    for n in range(6):
        trail.add(record(n, "CreateProject" if n % 2 else "AddService", "FAILED" if n % 3 == 0 else "SUCCEEDED"))
    assert [e["name"] for e in trail.list(command="AddService")] == ["4", "2", "0"]
    assert [e["name"] for e in trail.list(status="FAILED")] == ["3", "0"]
    assert [e["name"] for e in trail.list(limit=2)] == ["5", "4"]
    assert [e["name"] for e in trail.list(visible=lambda r: r["name"] == "1")] == ["1"]


HISTORY = [
    {"type": "ExecutionStarted", "timestamp": at(0), "executionStartedEventDetails": {"input": "{}"}},
    {"type": "TaskStateEntered", "timestamp": at(1), "stateEnteredEventDetails": {"name": "Decide", "input": '{"a":1}'}},
    {"type": "TaskScheduled", "timestamp": at(2), "taskScheduledEventDetails": {}},
    {"type": "TaskFailed", "timestamp": at(5), "taskFailedEventDetails": {"error": "StreamContention", "cause": "x"}},
    {"type": "TaskScheduled", "timestamp": at(6), "taskScheduledEventDetails": {}},
    {"type": "TaskFailed", "timestamp": at(9), "taskFailedEventDetails": {"error": "Boom", "cause": '{"errorType":"Boom"}'}},
    {"type": "TaskStateExited", "timestamp": at(10), "stateExitedEventDetails": {"name": "Decide", "output": "{}"}},
    {"type": "FailStateEntered", "timestamp": at(11), "stateEnteredEventDetails": {"name": "InternalError", "input": "{}"}},
    {"type": "ExecutionFailed", "timestamp": at(12), "executionFailedEventDetails": {"error": "InternalError",
                                                                                    "cause": "c"}},
]


def test_condense_gives_each_state_its_duration_retries_and_error():
    decide, fail = condense(HISTORY)
    assert (decide["name"], decide["status"], decide["retries"], decide["error"], decide["durationMs"]) == (
        "Decide", "CAUGHT", 1, "Boom", 9)
    assert decide["input"] == '{"a":1}'
    assert (fail["name"], fail["type"], fail["status"], fail["error"]) == ("InternalError", "Fail", "FAILED",
                                                                           "InternalError")


def test_user_command_executions_keep_no_personal_data():
    from chronicle.local import trail as trail_module

    class Sfn:
        def describe_execution(self, executionArn):  # noqa: N803 - boto3's name
            return {"name": "n", "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:c-RegisterUser",
                    "status": "FAILED", "input": '{"body": "{\\"email\\": \\"eve@example.com\\"}"}',
                    "error": "ValidationError",
                    "cause": json.dumps({"errorType": "ValidationError", "errorMessage": "eve@example.com is taken",
                                         "stackTrace": ["  File app.py, line 3"]}),
                    "startDate": at(0), "stopDate": at(5)}

        def get_execution_history(self, executionArn, maxResults):  # noqa: N803
            return {"events": [
                {"type": "TaskStateEntered", "timestamp": at(1),
                 "stateEnteredEventDetails": {"name": "ValidateCommand", "input": "eve@example.com"}},
                {"type": "TaskStateExited", "timestamp": at(2),
                 "stateExitedEventDetails": {"name": "ValidateCommand", "output": "Eve Example"}}]}

    trail = ExecutionTrail()
    kept = trail.capture(Sfn(), "arn:x:n", "RegisterUser", "eve")
    text = json.dumps(kept)
    assert "eve@example.com" not in text and "Eve Example" not in text
    assert kept["sealed"] and kept["input"] == SEALED and kept["states"][0]["output"] == SEALED
    assert json.loads(kept["cause"])["stackTrace"] == ["  File app.py, line 3"]  # where it failed stays
    assert trail_module.ExecutionTrail().capture(Sfn(), "arn:x:m", "CreateProject", "a")["sealed"] is False
