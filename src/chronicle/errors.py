"""Errors a user can cause, one class per docs/reference/errors.md error code.

The class name *is* the error code: a Lambda that raises one reports it as `errorType`, which the ASL
Catch matches and sends to the Fail state of the same name. The message is the JSON error body, so the
API layer can return it unchanged.
"""

from __future__ import annotations

import json
from typing import Any

# docs/reference/errors.md: error code -> HTTP status. The API Gateway response template and the local server both
# follow this table (tests/unit/test_template.py checks that api/openapi.yaml agrees).
HTTP_STATUS: dict[str, int] = {
    "ValidationError": 400,
    "Forbidden": 403,
    "UnknownCommand": 404,
    "AggregateNotFound": 404,
    "ConcurrencyConflict": 409,
    "AggregateAlreadyExists": 409,
    "IdempotencyKeyReused": 409,
    "PayloadTooLarge": 413,
    "BusinessRuleViolation": 422,
    "InternalError": 500,
}


class ChronicleError(Exception):
    """A refusal with a documented code; `str(error)` is the JSON body the client receives."""

    code = "InternalError"

    def __init__(self, message: str, details: list[Any] | None = None):
        self.message = message
        self.details = details or []
        super().__init__(json.dumps(self.body()))

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]


def _error(code: str) -> type[ChronicleError]:
    return type(code, (ChronicleError,), {"code": code, "__doc__": f"documented error {code}."})


ValidationError = _error("ValidationError")
UnknownCommand = _error("UnknownCommand")
AggregateNotFound = _error("AggregateNotFound")
ConcurrencyConflict = _error("ConcurrencyConflict")
AggregateAlreadyExists = _error("AggregateAlreadyExists")
IdempotencyKeyReused = _error("IdempotencyKeyReused")
PayloadTooLarge = _error("PayloadTooLarge")
BusinessRuleViolation = _error("BusinessRuleViolation")
Forbidden = _error("Forbidden")
InternalError = _error("InternalError")


class StreamContention(ChronicleError):
    """A conflict on a command without expectedVersion: the state machine retries it (re-load, re-decide),
    and only when its retries run out does the client see ConcurrencyConflict."""

    code = "ConcurrencyConflict"


def body_from_cause(cause: str | None, error: str) -> dict[str, Any]:
    """The client body from a failed execution's `cause`, as the API Gateway response template builds it.

    Step Functions wraps a Lambda error as `{"errorMessage": <our JSON body>, "errorType": ..., "stackTrace": ...}`.
    Our own bodies are returned as they are; any other failure (an unexpected exception, a States.* error, a
    timeout) gets a generic InternalError body: its message or stack trace is for the log, never for the client.
    """
    message: Any = None
    try:
        outer = json.loads(cause or "")
        message = outer.get("errorMessage") if isinstance(outer, dict) else None
        inner = json.loads(message) if isinstance(message, str) else outer
        if isinstance(inner, dict) and "error" in inner and "message" in inner:
            inner["error"] = error if error in HTTP_STATUS else "InternalError"
            inner.setdefault("details", [])
            return inner
    except (ValueError, TypeError, KeyError):
        pass
    if error not in HTTP_STATUS or error == "InternalError":
        return {"error": "InternalError", "message": "The command could not be processed.", "details": []}
    return {"error": error, "message": message if isinstance(message, str) else error, "details": []}
