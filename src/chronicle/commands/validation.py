"""Step 1, ValidateCommand: the state machine input -> a validated command (docs/reference/errors.md: 400, 404, 413).

The raw body travels as a string (API Gateway's template), so strict JSON is checked here, in AWS and locally
alike; then the envelope and the command's schema (chronicle.schemas), the actor, and the target stream's id.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from chronicle import identity, strictjson
from chronicle.commands.outcome import now_iso
from chronicle.domain import Aggregate, aggregate_for_command
from chronicle.errors import PayloadTooLarge, UnknownCommand, ValidationError
from chronicle.ids import create_id_problem, is_aggregate_id, new_id
from chronicle.schemas import SchemaRegistry, registry

# Step Functions refuses an execution input (and any state's data) over 256 KiB. The raw body travels in the
# input, so a bigger request cannot be a command; events travel between states only as keys (see `stream`).
MAX_EXECUTION_INPUT_BYTES = 256 * 1024
# An IAM role session ARN, the longest principal AWS gives an actor, stays under this.
MAX_ACTOR_ID_CHARS = 2048


def validate_request(request: dict[str, Any], schemas: SchemaRegistry | None = None) -> dict[str, Any]:
    """The state machine input -> a validated command, or ValidationError / UnknownCommand / PayloadTooLarge."""
    schemas = schemas or registry()
    command_type = request.get("commandType")
    if not isinstance(command_type, str) or command_type not in schemas.command_types:
        raise UnknownCommand(f"There is no command named {command_type!r}.")
    aggregate = aggregate_for_command(command_type)
    _within_execution_limit(request, "request")
    body = _body(request.get("body"))
    errors = _body_errors(schemas, aggregate, command_type, body)
    if errors:
        raise ValidationError(f"The {command_type} command is not valid.", errors)
    principal = identity.request_principal(request)  # AWS: the mapped principal; locally the header's id
    actor = _actor(principal.actor_id)
    client_command_id = body.get("commandId")
    command = {
        "commandType": command_type,
        "aggregateType": aggregate.type,
        "aggregateId": _target_id(aggregate, command_type, body, actor) or new_id(aggregate.type),
        "aggregateIdGiven": "aggregateId" in body,
        "expectedVersion": body.get("expectedVersion"),
        "commandId": client_command_id or str(uuid.uuid4()),
        "idempotent": client_command_id is not None,
        "correlationId": request.get("correlationId") or str(uuid.uuid4()),
        "actorId": actor,
        **({"actorSession": principal.session} if principal.session else {}),
        "startedAt": now_iso(),
        "data": body["data"],
    }
    _within_execution_limit(command, "validated command")  # it travels on to AppendEvents as that step's input
    return command


def _body(raw: Any) -> dict[str, Any]:
    """The request body parsed as strict JSON: an object."""
    if isinstance(raw, str):
        try:
            body = strictjson.loads(raw) if raw.strip() else None
        except strictjson.StrictJSONError as error:
            raise ValidationError(f"The request body is not strict JSON: {error.message}.",
                                  [{"path": error.path, "message": error.message}]) from None
    else:
        body = raw  # invoked directly with a parsed body (tests, `chronicle invoke`): hold it to the same rules
        _strict_parsed(body)
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a JSON object.",
                              [{"path": "$", "message": "expected an object with a `data` member"}])
    return body


def _strict_parsed(body: Any) -> None:
    try:
        json.dumps(body, allow_nan=False)
    except ValueError:
        raise ValidationError("The request body is not strict JSON: NaN or Infinity.",
                              [{"path": "$", "message": "NaN and Infinity are not JSON numbers"}]) from None
    if strictjson.depth(body) > strictjson.MAX_DEPTH:
        raise ValidationError("The request body is not strict JSON: too deep.",
                              [{"path": "$", "message": f"nests deeper than {strictjson.MAX_DEPTH} levels"}])


def _body_errors(schemas: SchemaRegistry, aggregate: Aggregate, command_type: str,
                 body: dict[str, Any]) -> list[dict[str, str]]:
    errors = _not_unicode(body)
    if errors:  # JSON's \ud800 escapes can carry lone surrogates, which no store can encode: refuse them here
        return errors
    errors = schemas.errors(schemas.envelope_validator(), body)
    if isinstance(body.get("data"), dict):
        errors += schemas.errors(schemas.command_validator(command_type), body["data"], ("data",))
    if command_type not in aggregate.create_commands and "aggregateId" not in body:
        errors.append({"path": "$.aggregateId", "message": f"'aggregateId' is required for {command_type}"})
    elif command_type in aggregate.create_commands:
        errors += _create_id_errors(aggregate, body.get("aggregateId"))
    return errors


def _create_id_errors(aggregate: Aggregate, aggregate_id: Any) -> list[dict[str, str]]:
    """A client-chosen id of a new stream carries its type's prefix, or none of the others' (decision 0010)."""
    if not isinstance(aggregate_id, str) or not is_aggregate_id(aggregate_id):
        return []  # absent (the server makes one) or already refused by the envelope's pattern
    problem = create_id_problem(aggregate.type, aggregate_id)
    return [{"path": "$.aggregateId", "message": problem}] if problem else []


def _actor(actor: str) -> str:
    if len(actor) > MAX_ACTOR_ID_CHARS:  # it is stored in every event's metadata: an id, not a payload
        raise ValidationError(f"The actor id (locally the X-Actor-Id header) is {len(actor)} characters, over "
                              f"{MAX_ACTOR_ID_CHARS}.", [{"path": "actorId", "message": "too long"}])
    identity.check_actor_id(actor)  # never a project- / template- id (decision 0010)
    return actor


def _target_id(aggregate: Aggregate, command_type: str, body: dict[str, Any], actor_id: str) -> str | None:
    """The stream the command names; RegisterUser without an aggregateId registers the caller (the actor id)."""
    aggregate_id = body.get("aggregateId")
    if aggregate_id is None and aggregate.default_id_is_actor:
        if not is_aggregate_id(actor_id):
            raise ValidationError(f"{command_type} without an aggregateId acts on the caller's id, and the caller "
                                  f"{actor_id!r} is not a valid aggregate id.",
                                  [{"path": "$.aggregateId", "message": "give the id, or act under a valid actor id"}])
        return actor_id
    return aggregate_id


def execution_input_size(value: Any) -> int:
    """Bytes of ``value`` as it travels between Step Functions states: JSON text, non-ASCII escaped as ``\\uXXXX``
    (API Gateway's escapeJavaScript does the same), so 1 KB of non-ASCII text can weigh 3 KB or more."""
    return len(json.dumps(value).replace("/", "\\/").encode())  # escapeJavaScript writes / as \/ too


def too_large(what: str, size: int, limit: int) -> PayloadTooLarge:
    """The one shape of every 413: details ``[{"bytes": size, "limit": limit}]``."""
    return PayloadTooLarge(f"The {what} is {size} bytes, over the limit of {limit} bytes.",
                           [{"bytes": size, "limit": limit}])


def _within_execution_limit(value: Any, what: str) -> None:
    size = execution_input_size(value)
    if size > MAX_EXECUTION_INPUT_BYTES:
        raise too_large(f"{what} (JSON-escaped, as Step Functions carries it)", size, MAX_EXECUTION_INPUT_BYTES)


def _not_unicode(value: Any, path: str = "$") -> list[dict[str, str]]:
    """Every string (key or value) that is not valid Unicode, by JSON path."""
    found: list[dict[str, str]] = []
    if isinstance(value, str) and _bad(value):
        found.append({"path": path, "message": "contains a lone UTF-16 surrogate: not valid Unicode"})
    elif isinstance(value, dict):
        for key, item in value.items():
            if _bad(key):
                found.append({"path": path, "message": "a key contains a lone UTF-16 surrogate: not valid Unicode"})
            else:
                found += _not_unicode(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _not_unicode(item, f"{path}[{i}]")
    return found


def _bad(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
