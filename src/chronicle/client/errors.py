"""Typed errors of chronicle.client: one class per error code the APIs answer with (the `error` member of a
command API body; the errorType of a GraphQL error). `except ChronicleError` catches them all."""

from __future__ import annotations

from typing import Any


class ChronicleError(Exception):
    """A refusal or failure the API reported: `code`, `message`, `details` and the HTTP `status`."""

    code = "InternalError"

    def __init__(self, message: str, details: list[Any] | None = None, status: int | None = None,
                 body: Any = None):
        super().__init__(f"{self.code}: {message}")
        self.message = message
        self.details = details or []
        self.status = status
        self.body = body


def _code(name: str, doc: str) -> type[ChronicleError]:
    return type(name, (ChronicleError,), {"code": name, "__doc__": doc})


ValidationError = _code("ValidationError", "400: the command or query is not valid; nothing was stored.")
Unauthorized = _code("Unauthorized", "401/403: no valid token or signature.")
AccessDenied = _code("AccessDenied", "403: IAM refused the call (API Gateway or AppSync).")
Forbidden = _code("Forbidden", "403: the actor lacks a permission (details name each).")
UnknownCommand = _code("UnknownCommand", "404: no such command type.")
AggregateNotFound = _code("AggregateNotFound", "404: the stream does not exist.")
NotFound = _code("NotFound", "404: no such route.")
ConcurrencyConflict = _code("ConcurrencyConflict", "409: the stream moved past expectedVersion.")
AggregateAlreadyExists = _code("AggregateAlreadyExists", "409: a create command named an existing stream.")
IdempotencyKeyReused = _code("IdempotencyKeyReused", "409: the commandId was used for another command.")
PayloadTooLarge = _code("PayloadTooLarge", "413: the command is too large.")
BusinessRuleViolation = _code("BusinessRuleViolation", "422: a domain rule refused the command.")
Throttled = _code("Throttled", "429: too many requests (retried with backoff before it is raised).")
InternalError = _code("InternalError", "500: the service failed (retried before it is raised).")
ServiceUnavailable = _code("ServiceUnavailable", "503: the service is not available (retried before it is raised).")


class GraphQLError(ChronicleError):
    """A GraphQL answer with errors whose type is not one of the codes above: `errors` holds them all."""

    code = "GraphQLError"

    def __init__(self, message: str, errors: list[dict[str, Any]], data: Any = None):
        super().__init__(message, errors)
        self.errors = errors
        self.data = data


class TransportError(ChronicleError):
    """The request never got an answer (connection refused or reset, timeout) after every retry."""

    code = "TransportError"


BY_CODE: dict[str, type[ChronicleError]] = {
    cls.code: cls for cls in (ValidationError, Unauthorized, AccessDenied, Forbidden, UnknownCommand,
                              AggregateNotFound, NotFound, ConcurrencyConflict, AggregateAlreadyExists,
                              IdempotencyKeyReused, PayloadTooLarge, BusinessRuleViolation, Throttled,
                              InternalError, ServiceUnavailable)}
_BY_STATUS = {400: ValidationError, 401: Unauthorized, 403: AccessDenied, 404: NotFound, 409: ConcurrencyConflict,
              413: PayloadTooLarge, 422: BusinessRuleViolation, 429: Throttled, 503: ServiceUnavailable}


def error_for(status: int, body: Any) -> ChronicleError:
    """The typed error of an HTTP answer: by its body's `error` code, else by its status."""
    body_dict = body if isinstance(body, dict) else {}
    cls = BY_CODE.get(str(body_dict.get("error"))) or _BY_STATUS.get(status, InternalError)
    message = body_dict.get("message") or body_dict.get("Message") or f"HTTP {status}"
    details = body_dict.get("details") if isinstance(body_dict.get("details"), list) else []
    return cls(str(message), details, status, body)


def graphql_error(errors: list[dict[str, Any]], data: Any) -> ChronicleError:
    """The error of a GraphQL answer: the first error's errorType when it is a known code."""
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    cls = BY_CODE.get(str(first.get("errorType") or ""))
    message = str(first.get("message") or "GraphQL error")
    if cls is None:
        return GraphQLError(message, errors, data)
    error = cls(message, errors)
    error.body = {"errors": errors, "data": data}
    return error
