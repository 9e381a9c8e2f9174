"""Error bodies: what a client receives for each failure, whatever form the execution's cause takes."""

import json

from chronicle import errors


def test_error_message_is_the_json_body():
    error = errors.BusinessRuleViolation("no", [{"rule": "R"}])
    assert json.loads(str(error)) == {"error": "BusinessRuleViolation", "message": "no", "details": [{"rule": "R"}]}
    assert error.status == 422


def test_body_from_a_lambda_error_cause():
    cause = json.dumps({"errorMessage": str(errors.ValidationError("bad", [{"path": "$.data"}])),
                        "errorType": "ValidationError", "stackTrace": []})
    assert errors.body_from_cause(cause, "ValidationError")["details"] == [{"path": "$.data"}]


def test_stream_contention_reports_a_concurrency_conflict():
    cause = json.dumps({"errorMessage": str(errors.StreamContention("busy")), "errorType": "StreamContention"})
    assert errors.body_from_cause(cause, "ConcurrencyConflict")["error"] == "ConcurrencyConflict"


def test_unknown_failures_are_internal_errors_without_details():
    assert errors.body_from_cause("Task timed out", "States.Timeout") == {
        "error": "InternalError", "message": "The command could not be processed.", "details": []}
    assert errors.body_from_cause(None, "States.Runtime")["error"] == "InternalError"


def test_every_code_has_a_status():
    assert set(errors.HTTP_STATUS) >= {"ValidationError", "UnknownCommand", "AggregateNotFound",
                                       "ConcurrencyConflict", "AggregateAlreadyExists", "BusinessRuleViolation",
                                       "IdempotencyKeyReused", "PayloadTooLarge"}


def test_an_unexpected_exception_never_reaches_the_client():
    """An InternalError Fail state fed by an exception we did not raise on purpose: its message and stack trace
    are for the log only (the API Gateway template answers the same generic body)."""
    cause = json.dumps({"errorMessage": "'utf-8' codec can't encode character", "errorType": "UnicodeEncodeError",
                        "stackTrace": ['  File "/var/task/app.py", line 19, in handler\n']})
    body = errors.body_from_cause(cause, "InternalError")
    assert body == {"error": "InternalError", "message": "The command could not be processed.", "details": []}


def test_a_known_code_with_a_plain_message_keeps_only_the_message():
    cause = json.dumps({"errorMessage": "plain words", "errorType": "ConcurrencyConflict", "stackTrace": ["x"]})
    assert errors.body_from_cause(cause, "ConcurrencyConflict") == {
        "error": "ConcurrencyConflict", "message": "plain words", "details": []}
