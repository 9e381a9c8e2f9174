"""The command side's three steps, one per Lambda of every command state machine:

validate_request (ValidateCommand) -> decide_and_append (AppendEvents) -> publish (PublishEvents).

See docs/architecture.md for the data each step receives and returns.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from datetime import datetime, timedelta, UTC
from typing import Any

from chronicle import strictjson
from chronicle.domain import Aggregate, aggregate_for_command
from chronicle import policy
from chronicle.errors import (AggregateAlreadyExists, AggregateNotFound, BusinessRuleViolation, ChronicleError,
                              ConcurrencyConflict, Forbidden, IdempotencyKeyReused, PayloadTooLarge, StreamContention,
                              UnknownCommand, ValidationError)
from chronicle.eventstore import NO_STREAM, AppendConflict, EventStore
from chronicle.eventstore.items import MAX_TRANSACTION_ITEMS, dumps
from chronicle.eventstore.snapshots import AggregateLoader, Loaded
from chronicle.eventstore.store import CommandAlreadyRecorded, ConditionFailed, FactsChanged
from chronicle.schemas import SchemaRegistry, registry

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit, kept locally too
# Step Functions refuses an execution input (and any state's data) over 256 KiB. The raw body travels in the
# input, so a bigger request cannot be a command; events travel between states only as keys (see `stream`).
MAX_EXECUTION_INPUT_BYTES = 256 * 1024
# An IAM role session ARN, the longest principal AWS gives an actor, stays under this.
MAX_ACTOR_ID_CHARS = 2048
MAX_DETAIL_BYTES = 200 * 1024  # EventBridge entries are at most 256 KB; bigger events are sent without data
_AGGREGATE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")  # schemas/command-envelope.json
# A retried DecideAndAppend looks for its own earlier events among those stored since its command started, less
# this margin for the clocks of the two Lambdas (ValidateCommand stamps startedAt, AppendEvents the events).
CLOCK_SKEW = timedelta(seconds=5)


def now_iso() -> str:
    """ISO-8601 UTC with millisecond precision (docs/eventstore.md); such strings sort as time does."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- step 1: ValidateCommand ---------------------------------------------------------------------------
def validate_request(request: dict[str, Any], schemas: SchemaRegistry | None = None) -> dict[str, Any]:
    """The state machine input -> a validated command, or ValidationError / UnknownCommand / PayloadTooLarge."""
    schemas = schemas or registry()
    command_type = request.get("commandType")
    if not isinstance(command_type, str) or command_type not in schemas.command_types:
        raise UnknownCommand(f"There is no command named {command_type!r}.")
    aggregate = aggregate_for_command(command_type)

    _within_execution_limit(request, "request")
    raw = request.get("body")
    if isinstance(raw, str):
        try:
            body = strictjson.loads(raw) if raw.strip() else None
        except strictjson.StrictJSONError as error:
            raise ValidationError(f"The request body is not strict JSON: {error.message}.",
                                  [{"path": error.path, "message": error.message}]) from None
    else:
        body = raw  # invoked directly with a parsed body (tests, `chronicle invoke`): hold it to the same rules
        try:
            json.dumps(body, allow_nan=False)
        except ValueError:
            raise ValidationError("The request body is not strict JSON: NaN or Infinity.",
                                  [{"path": "$", "message": "NaN and Infinity are not JSON numbers"}]) from None
        if strictjson.depth(body) > strictjson.MAX_DEPTH:
            raise ValidationError("The request body is not strict JSON: too deep.",
                                  [{"path": "$", "message": f"nests deeper than {strictjson.MAX_DEPTH} levels"}])
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a JSON object.",
                              [{"path": "$", "message": "expected an object with a `data` member"}])
    errors = _not_unicode(body)
    if errors:  # JSON's \ud800 escapes can carry lone surrogates, which no store can encode: refuse them here
        raise ValidationError(f"The {command_type} command is not valid.", errors)
    errors = schemas.errors(schemas.envelope_validator(), body)
    if isinstance(body.get("data"), dict):
        errors += schemas.errors(schemas.command_validator(command_type), body["data"], ("data",))
    is_create = command_type in aggregate.create_commands
    if not is_create and "aggregateId" not in body:
        errors.append({"path": "$.aggregateId", "message": f"'aggregateId' is required for {command_type}"})
    if errors:
        raise ValidationError(f"The {command_type} command is not valid.", errors)

    actor = str(request.get("actorId") or "anonymous")
    if len(actor) > MAX_ACTOR_ID_CHARS:  # it is stored in every event's metadata: an id, not a payload
        raise ValidationError(f"The actor id (locally the X-Actor-Id header) is {len(actor)} characters, over "
                              f"{MAX_ACTOR_ID_CHARS}.", [{"path": "actorId", "message": "too long"}])

    actor_id = actor
    aggregate_id = body.get("aggregateId")
    if aggregate_id is None and aggregate.default_id_is_actor:
        # RegisterUser without an aggregateId registers the caller: the stream id is the actor id.
        if not _AGGREGATE_ID.match(actor_id):
            raise ValidationError(f"{command_type} without an aggregateId acts on the caller's id, and the caller "
                                  f"{actor_id!r} is not a valid aggregate id.",
                                  [{"path": "$.aggregateId", "message": "give the id, or act under a valid actor id"}])
        aggregate_id = actor_id
    client_command_id = body.get("commandId")
    command = {
        "commandType": command_type,
        "aggregateType": aggregate.type,
        "aggregateId": aggregate_id or str(uuid.uuid4()),
        "aggregateIdGiven": "aggregateId" in body,
        "expectedVersion": body.get("expectedVersion"),
        "commandId": client_command_id or str(uuid.uuid4()),
        "idempotent": client_command_id is not None,
        "correlationId": request.get("correlationId") or str(uuid.uuid4()),
        "actorId": actor,
        "startedAt": now_iso(),
        "data": body["data"],
    }
    _within_execution_limit(command, "validated command")  # it travels on to AppendEvents as that step's input
    return command


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

    def bad(text: str) -> bool:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False

    if isinstance(value, str) and bad(value):
        found.append({"path": path, "message": "contains a lone UTF-16 surrogate: not valid Unicode"})
    elif isinstance(value, dict):
        for key, item in value.items():
            if bad(key):
                found.append({"path": path, "message": "a key contains a lone UTF-16 surrogate: not valid Unicode"})
            else:
                found += _not_unicode(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _not_unicode(item, f"{path}[{i}]")
    return found


# ---- step 2: AppendEvents ------------------------------------------------------------------------------
def command_fingerprint(command: dict[str, Any]) -> str:
    """What makes two requests 'the same command' for an idempotency key: everything the client chose."""
    chosen = {k: command.get(k) for k in ("commandType", "expectedVersion", "actorId", "data")}
    chosen["aggregateId"] = command["aggregateId"] if command.get("aggregateIdGiven") else None
    return hashlib.sha256(dumps(chosen).encode()).hexdigest()


def decide_and_append(command: dict[str, Any], store: EventStore, loader: AggregateLoader,
                      vault: Any = None, attempt: int | None = None) -> dict[str, Any]:
    """Load, decide and append atomically; answer the stored outcome when this command was already stored.

    Returns {"response": the reference (docs/reference) body, "stream": {aggregateId, fromSequence, toSequence}, "events": the records}.
    The Lambda handler drops "events" before returning: state data is limited to 256 KiB, so PublishEvents reads
    the events back by `stream`.

    This step may run again for one command: Step Functions retries it when Lambda's answer is lost, with the same
    input (the commandId ValidateCommand made). Such a retry recognises its earlier attempt by the events it
    stored, whose metadata carries the commandId: among those stored since the command started (an update), or
    the event that refuses its create (returned by the failed write). A client's commandId can come back much
    later, in another execution: it is recorded in the CommandLog with the events (docs/decisions/0002).

    `attempt` is the step's retry count (Step Functions' ``$$.State.RetryCount``; None when unknown): the first
    attempt of a server-made commandId cannot have stored anything, so it looks for nothing.
    """
    aggregate = aggregate_for_command(command["commandType"])
    if command["idempotent"]:
        # Eventually consistent (half price): a record it misses still stops the append (the record's condition
        # in the transaction), and the refusal then reads it consistently.
        recorded = _recorded_outcome(store, command, consistent=False)
        if recorded is not None:
            return recorded
    try:
        return _decide_and_append(aggregate, command, store, loader, vault, attempt)
    except ChronicleError as refusal:
        # A refused retry (a rule that now fails, the stream exists, ...) whose first attempt was stored.
        if command["idempotent"]:
            recorded = _recorded_outcome(store, command)
        elif command["commandType"] in aggregate.create_commands and not isinstance(refusal, AggregateAlreadyExists):
            recorded = _earlier_create(store, aggregate, command)  # (AggregateAlreadyExists: already looked)
        else:
            recorded = None  # an update looked for its earlier attempt right after loading
        if recorded is not None:
            return recorded
        raise


def _decide_and_append(aggregate: Aggregate, command: dict[str, Any], store: EventStore,
                       loader: AggregateLoader, vault: Any, attempt: int | None = None) -> dict[str, Any]:
    aggregate_id = command["aggregateId"]
    is_create = command["commandType"] in aggregate.create_commands
    expected = command.get("expectedVersion")
    if is_create:
        if expected not in (None, 0):
            raise ConcurrencyConflict(f"{command['commandType']} creates a new stream: expectedVersion can only be 0.",
                                      [{"reason": "ExpectedVersionMismatch", "aggregateId": aggregate_id,
                                        "expectedVersion": expected, "actualVersion": 0}])
        before = Loaded(aggregate.initial_state(), 0, None, 0, 0)
    else:
        before = loader.load(aggregate, aggregate_id)
        earlier = _earlier_attempt(store, aggregate, command, before, attempt)
        if earlier is not None:
            return earlier
        if before.version == 0:
            raise AggregateNotFound(f"There is no {aggregate.type} {aggregate_id!r}.",
                                    [{"aggregateId": aggregate_id, "aggregateType": aggregate.type}])
    # docs/reference/authorization.md: after 400 (ValidateCommand) and 404, before anything else is told or stored.
    authorize(aggregate, command, before.state, loader)
    if not is_create and expected is not None and expected != before.version:
        raise _conflict(aggregate_id, expected, before.version)

    facts = command.get("facts")
    if facts and "atVersion" in facts and facts["atVersion"] != before.version:
        # Facts about this stream (LoadFacts) describe another version: the workflow loads them again.
        raise StreamContention(f"{aggregate.type} {aggregate_id!r} changed after its facts were loaded.",
                               [{"aggregateId": aggregate_id, "factsVersion": facts["atVersion"],
                                 "readVersion": before.version}])
    extra_items: list[tuple[dict[str, Any], str]] = []
    if aggregate.personal_fields:
        from chronicle import users

        vault = vault or _vault()
        opened = users.open_state(vault, aggregate_id, before.state) if not is_create else before.state
        new_events = aggregate.decide(command["commandType"], command["data"], opened, facts)
        new_events, extra_items = users.seal_events(vault, aggregate_id, command["commandType"], opened, new_events)
    else:
        new_events = aggregate.decide(command["commandType"], command["data"], before.state, facts)
    records = _records(aggregate, command, new_events, before)
    response = _response(aggregate, command, before.version, records)
    if command.get("continues"):  # a follow-up step of one request: one answer for all its events
        response = _continued(command["continues"]["response"], response)
    # A client's commandId is recorded with the events (one TransactWriteItems): the client may retry it at any
    # time. A server-made one needs no record: a one-event command is a single conditional PutItem.
    log_item = _command_log_item(command, response) if command["idempotent"] else None
    try:
        stored = store.append(aggregate_id, records, NO_STREAM if is_create else before.version, log_item,
                              checks=(facts or {}).get("checks"), extra_items=extra_items, head_read=True,
                              previous_hash=before.head_hash)
    except FactsChanged as moved:
        # A stream the decision relied on moved (AddService: the template changed): never the client's conflict,
        # whatever its expectedVersion; the workflow re-loads the facts and decides again.
        raise StreamContention(f"{moved.checks[0]['aggregateId']!r} changed while {command['commandType']} was "
                               "decided.", [{"aggregateId": c["aggregateId"], "readVersion": c["version"]}
                                            for c in moved.checks]) from None
    except ConditionFailed as failed:
        if failed.tag == "EmailUnique":
            raise BusinessRuleViolation("Another user has this email.",
                                        [{"rule": "EmailUnique", "path": "$.data.email"}]) from None
        raise StreamContention(f"{aggregate.type} {aggregate_id!r} changed while the command was decided.",
                               [{"aggregateId": aggregate_id, "condition": failed.tag}]) from None
    except AppendConflict as conflict:
        if is_create:
            earlier = _earlier_create(store, aggregate, command, conflict.existing, len(records))
            if earlier is not None:
                return earlier
            raise AggregateAlreadyExists(f"{aggregate.type} {aggregate_id!r} already exists.",
                                         [{"aggregateId": aggregate_id}]) from None
        if expected is not None:
            raise _conflict(aggregate_id, expected, store.version(aggregate_id)) from None
        # The state machine retries this (re-load, re-decide); the client only sees it once the retries ran out.
        raise StreamContention(f"{aggregate.type} {aggregate_id!r} kept changing while the command was decided, "
                               "through every retry of the workflow; send the command again.",
                               [{"reason": "StreamContended", "aggregateId": aggregate_id,
                                 "readVersion": before.version}]) from None
    except CommandAlreadyRecorded:
        recorded = _recorded_outcome(store, command)
        if recorded is None:  # cannot happen: the record is never deleted
            raise
        return recorded
    loader.after_append(aggregate, aggregate_id, before, stored)
    return {"response": response, "stream": stream_of(response), "events": stored}


def admin_actor_ids() -> frozenset[str]:
    """The bootstrap admins: stack parameter AdminActorIds -> ADMIN_ACTOR_IDS (comma-separated)."""
    return frozenset(a.strip() for a in os.environ.get("ADMIN_ACTOR_IDS", "").split(",") if a.strip())


def load_actor(actor_id: str, loader: AggregateLoader) -> policy.Actor:
    """The actor's grants, folded from its own User stream (consistent reads of the event store, never a read model
    that may lag behind a revoke)."""
    from chronicle.domain import user

    state = loader.load(user.AGGREGATE, actor_id).state if _AGGREGATE_ID.match(actor_id) else user.initial_state()
    return policy.actor_from(actor_id, [(e["resource"], e["permission"]) for e in state["permissions"]],
                             admin_actor_ids())


def authorize(aggregate: Aggregate, command: dict[str, Any], state: dict[str, Any], loader: AggregateLoader) -> None:
    """Forbidden (403) naming each permission and resource the command needs and the actor lacks."""
    actor_id = command["actorId"]
    need = aggregate.need(command["commandType"], command["data"], state, command["aggregateId"], actor_id)
    if not need.all_of or actor_id in need.unless:
        return
    lacking = policy.missing(load_actor(actor_id, loader), need)
    if lacking:
        wanted = ", ".join(f"{m['permission']} on {m['resource']}" for m in lacking)
        raise Forbidden(f"{actor_id!r} may not {command['commandType']} here: it needs {wanted}.", lacking)


def _vault() -> Any:
    from chronicle import aws

    return aws.vault()


def _earlier_attempt(store: EventStore, aggregate: Aggregate, command: dict[str, Any],
                     before: Loaded, attempt: int | None = None) -> dict[str, Any] | None:
    """The outcome this command stored in an earlier attempt, found among the events stored since it started.

    Free on the step's first attempt (its commandId was made for this execution: nothing can carry it yet), when
    nothing was stored since (the stream's head is older) or when the load already read them all; one backwards
    Query otherwise (a snapshot was taken inside the window: a busy stream)."""
    if command["idempotent"] or before.version == 0 or attempt == 0:
        return None
    started = command.get("startedAt")
    if not started:  # an input from before startedAt existed (an execution in flight across a deploy)
        since, recent = "", before.recent
    else:
        since = (datetime.fromisoformat(started.replace("Z", "+00:00")) - CLOCK_SKEW).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        if (before.last_timestamp or "") < since:
            return None
        recent = before.recent
        if not recent or (recent[0]["timestamp"] >= since and recent[0]["eventSequence"] > 1):
            recent = store.read_back(command["aggregateId"], since)
    mine = [e for e in recent if e["timestamp"] >= since and e["metadata"].get("commandId") == command["commandId"]]
    return _replayed(aggregate, command, mine) if mine else None


def _earlier_create(store: EventStore, aggregate: Aggregate, command: dict[str, Any],
                    existing: dict[str, Any] | None = None, count: int | None = None) -> dict[str, Any] | None:
    """A create refused because the stream exists: this command's own earlier attempt, when the first event
    (returned by the refused write, else read) carries its commandId. `count`: how many events it appends."""
    if existing is None or existing.get("eventSequence") != 1:
        existing = next(iter(store.read(command["aggregateId"], 1, 1, upcast=False)), None)
    if existing is None or existing["metadata"].get("commandId") != command["commandId"]:
        return None
    mine = [existing] if count == 1 else [
        e for e in store.read(command["aggregateId"], 1, count or MAX_TRANSACTION_ITEMS, upcast=False)
        if e["metadata"].get("commandId") == command["commandId"]]
    return _replayed(aggregate, command, mine)


def _replayed(aggregate: Aggregate, command: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The outcome an earlier attempt answered, rebuilt from the events it stored."""
    events = sorted(events, key=lambda e: e["eventSequence"])
    response = {
        "aggregateId": command["aggregateId"], "aggregateType": aggregate.type,
        "version": events[-1]["eventSequence"], "commandId": command["commandId"],
        "correlationId": events[0]["correlationId"],
        "events": [{"eventId": e["eventId"], "eventType": e["eventType"], "eventSequence": e["eventSequence"],
                    "version": e["version"]} for e in events],
    }
    if command.get("continues"):
        response = _continued(command["continues"]["response"], response)
    return {"response": response, "stream": stream_of(response), "replayed": True}


def _continued(first: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """The answer of a request whose workflow appended twice (UploadTemplate: TemplateUploaded, then the
    TemplateValidated of its validation step): the client's commandId, every event, the last version."""
    return {**then, "commandId": first["commandId"], "events": first["events"] + then["events"]}


def follow_up(command: dict[str, Any], outcome: dict[str, Any], command_type: str) -> dict[str, Any]:
    """A command a workflow runs after `command` on the same stream, answered together with it (see _continued).

    Its commandId derives from the first one's, so a retried or replayed request finds its record (a client's
    commandId) or its events (a server-made one, within the request's `startedAt` window)."""
    return {"commandType": command_type, "aggregateType": command["aggregateType"],
            "aggregateId": outcome["response"]["aggregateId"], "aggregateIdGiven": True, "expectedVersion": None,
            "commandId": f"{outcome['response']['commandId']}/{command_type}", "idempotent": command["idempotent"],
            "correlationId": command["correlationId"], "actorId": command["actorId"], "data": {},
            "startedAt": command.get("startedAt"),
            "continues": {"response": outcome["response"], "stream": outcome["stream"]}}


def stream_of(response: dict[str, Any]) -> dict[str, Any]:
    """Where a command's events are: enough for PublishEvents to read them back."""
    sequences = [e["eventSequence"] for e in response["events"]]
    return {"aggregateId": response["aggregateId"], "fromSequence": min(sequences, default=0),
            "toSequence": max(sequences, default=0)}


def _conflict(aggregate_id: str, expected: int, actual: int) -> ConcurrencyConflict:
    return ConcurrencyConflict(f"Stream {aggregate_id!r} is at version {actual}, not {expected}.",
                               [{"reason": "ExpectedVersionMismatch", "aggregateId": aggregate_id,
                                 "expectedVersion": expected, "actualVersion": actual}])


def _records(aggregate: Aggregate, command: dict, new_events: list, before: Loaded) -> list[dict[str, Any]]:
    timestamp = now_iso()
    if before.last_timestamp and before.last_timestamp > timestamp:
        timestamp = before.last_timestamp  # keep a stream's timestamps non-decreasing whatever the clocks say
    return [{
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "eventData": data,
        "correlationId": command["correlationId"],
        "timestamp": timestamp,
        "version": str(registry().current_version(event_type)),
        "metadata": {"aggregateType": aggregate.type, "commandId": command["commandId"],
                     "commandType": command["commandType"], "actorId": command["actorId"],
                     "causationId": command["commandId"], "correlationId": command["correlationId"]},
    } for event_type, data in new_events]


def _response(aggregate: Aggregate, command: dict, base: int, records: list[dict]) -> dict[str, Any]:
    return {
        "aggregateId": command["aggregateId"], "aggregateType": aggregate.type, "version": base + len(records),
        "commandId": command["commandId"], "correlationId": command["correlationId"],
        "events": [{"eventId": r["eventId"], "eventType": r["eventType"], "eventSequence": base + i,
                    "version": r["version"]} for i, r in enumerate(records, start=1)],
    }


def _command_log_item(command: dict, response: dict) -> dict[str, dict[str, str]]:
    item = {"commandId": {"S": command["commandId"]}, "fingerprint": {"S": command_fingerprint(command)},
            "commandType": {"S": command["commandType"]}, "aggregateId": {"S": command["aggregateId"]},
            "response": {"S": dumps(response)}, "recordedAt": {"S": now_iso()}}
    days = int(os.environ.get("IDEMPOTENCY_WINDOW_DAYS") or 0)
    if days > 0:  # the table's TTL attribute: DynamoDB deletes the record (free) some time after it expires
        item["expiresAt"] = {"N": str(int((datetime.now(UTC) + timedelta(days=days)).timestamp()))}
    return item


def _recorded_outcome(store: EventStore, command: dict, consistent: bool = True) -> dict[str, Any] | None:
    """The stored outcome of this commandId (the same command again), IdempotencyKeyReused, or None."""
    item = store.client.get_item(TableName=store.command_table, Key={"commandId": {"S": command["commandId"]}},
                                 ConsistentRead=consistent).get("Item")
    if item is None:
        return None
    if item["fingerprint"]["S"] != command_fingerprint(command):
        raise IdempotencyKeyReused(
            f"commandId {command['commandId']!r} was already used for a different command or payload.",
            [{"commandId": command["commandId"], "firstCommandType": item["commandType"]["S"],
              "firstAggregateId": item["aggregateId"]["S"]}])
    response = json.loads(item["response"]["S"])
    # PublishEvents re-publishes the same events: harmless for idempotent projections, and it heals a publish
    # that failed the first time.
    return {"response": response, "stream": stream_of(response), "replayed": True}


# ---- step 3: PublishEvents -----------------------------------------------------------------------------
def event_bridge_entries(events: list[dict[str, Any]], bus: str) -> list[dict[str, Any]]:
    entries = []
    for event in events:
        detail = json.dumps(event)
        if len(detail.encode()) > MAX_DETAIL_BYTES:
            # Too big for EventBridge: consumers fetch the data from the store by (aggregateId, eventSequence).
            detail = json.dumps({**event, "eventData": None, "eventDataOmitted": True})
        entries.append({"Source": f"chronicle.{event['metadata']['aggregateType']}",
                        "DetailType": event["eventType"], "Detail": detail, "EventBusName": bus})
    return entries


class PublishFailed(Exception):
    """EventBridge refused some entries; the state machine retries the step."""


def publish(outcome: dict[str, Any], store: EventStore, events_client: Any, bus: str) -> dict[str, Any]:
    """Put the command's stored events on the bus, read back from the store as they were written."""
    stream = outcome["stream"]
    events = store.read(stream["aggregateId"], stream["fromSequence"], stream["toSequence"], upcast=False) \
        if stream["fromSequence"] else []
    entries = event_bridge_entries(events, bus)
    for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
        result = events_client.put_events(Entries=entries[start:start + 10])
        if result.get("FailedEntryCount"):
            failed = [e for e in result["Entries"] if e.get("ErrorCode")]
            raise PublishFailed(f"{len(failed)} events were not accepted: {failed}")
    return {"published": len(entries)}
