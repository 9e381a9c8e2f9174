"""Step 2, AppendEvents: load the target stream, authorize, decide, and append atomically; answer the stored
outcome when this command was already stored (chronicle.commands.replay).

Returns {"response": the documented success body, "stream": {aggregateId, fromSequence, toSequence}, "events": the records}.
The Lambda handler drops "events" before returning: state data is limited to 256 KiB, so PublishEvents reads the
events back by `stream`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chronicle import policy
from chronicle.commands import outcome, replay
from chronicle.domain import Aggregate, NewEvent, aggregate_for_command
from chronicle.errors import (AggregateAlreadyExists, AggregateNotFound, BusinessRuleViolation, ChronicleError,
                              ConcurrencyConflict, StreamContention)
from chronicle.eventstore import NO_STREAM, AppendConflict, EventStore
from chronicle.eventstore.command_log import CommandLog
from chronicle.eventstore.snapshots import AggregateLoader, Loaded
from chronicle.eventstore.store import CommandAlreadyRecorded, ConditionFailed, FactsChanged

Extra = tuple[dict[str, Any], str]


@dataclass
class Step:
    """One command on its way through the step: what it acts on, and the stream as loaded before deciding."""

    aggregate: Aggregate
    command: dict[str, Any]
    store: EventStore
    loader: AggregateLoader

    @property
    def aggregate_id(self) -> str:
        return self.command["aggregateId"]

    @property
    def is_create(self) -> bool:
        return self.command["commandType"] in self.aggregate.create_commands

    @property
    def expected(self) -> int | None:
        return self.command.get("expectedVersion")

    @property
    def facts(self) -> dict[str, Any] | None:
        return self.command.get("facts")


def decide_and_append(command: dict[str, Any], store: EventStore, loader: AggregateLoader,
                      vault: Any = None, attempt: int | None = None) -> dict[str, Any]:
    """Load, decide and append atomically; answer the stored outcome when this command was already stored.

    `attempt` is the step's retry count (Step Functions' ``$$.State.RetryCount``; None when unknown): the first
    attempt of a server-made commandId cannot have stored anything, so it looks for nothing.
    """
    step = Step(aggregate_for_command(command["commandType"]), command, store, loader)
    if command["idempotent"]:
        # Eventually consistent (half price): a record it misses still stops the append (the record's condition
        # in the transaction), and the refusal then reads it consistently.
        recorded = replay.recorded_outcome(store, command, consistent=False)
        if recorded is not None:
            return recorded
    try:
        return _run(step, vault, attempt)
    except ChronicleError as refusal:
        recorded = _refused_retry(step, refusal)
        if recorded is not None:
            return recorded
        raise


def _refused_retry(step: Step, refusal: ChronicleError) -> dict[str, Any] | None:
    """A refused retry (a rule that now fails, the stream exists, ...) whose first attempt was stored."""
    if step.command["idempotent"]:
        return replay.recorded_outcome(step.store, step.command)
    if step.is_create and not isinstance(refusal, AggregateAlreadyExists):  # (AggregateAlreadyExists: looked)
        return replay.earlier_create(step.store, step.aggregate, step.command)
    return None  # an update looked for its earlier attempt right after loading


def _run(step: Step, vault: Any, attempt: int | None) -> dict[str, Any]:
    before = _created(step) if step.is_create else step.loader.load(step.aggregate, step.aggregate_id)
    if not step.is_create:
        earlier = replay.earlier_attempt(step.store, step.aggregate, step.command, before, attempt)
        if earlier is not None:
            return earlier
        if before.version == 0:  # no stream, or one of another type: the same answer (docs/decisions/0010)
            raise AggregateNotFound(f"There is no {step.aggregate.type} {step.aggregate_id!r}.",
                                    [{"aggregateId": step.aggregate_id, "aggregateType": step.aggregate.type}])
    # After 400 (ValidateCommand) and 404, before anything else is told or stored.
    policy.authorize(step.aggregate, step.command, before.state, step.loader)
    _still_current(step, before)
    new_events, extra_items = _decide(step, before, vault)
    records = outcome.records(step.aggregate, step.command, new_events, before)
    answer = outcome.response(step.aggregate, step.command, before.version, records)
    try:
        stored = _append(step, before, records, answer, extra_items)
    except CommandAlreadyRecorded:
        recorded = replay.recorded_outcome(step.store, step.command)
        if recorded is None:  # cannot happen: the record is never deleted
            raise
        return recorded
    except AppendConflict as conflict:
        return _moved(step, before, conflict, len(records))
    step.loader.after_append(step.aggregate, step.aggregate_id, before, stored)
    return {"response": answer, "stream": outcome.stream_of(answer), "events": stored}


def _created(step: Step) -> Loaded:
    """A create starts from nothing: expectedVersion can only be absent or 0."""
    if step.expected not in (None, 0):
        raise ConcurrencyConflict(f"{step.command['commandType']} creates a new stream: expectedVersion can only "
                                  "be 0.", [{"reason": "ExpectedVersionMismatch", "aggregateId": step.aggregate_id,
                                             "expectedVersion": step.expected, "actualVersion": 0}])
    return Loaded(step.aggregate.initial_state(), 0, None, 0, 0)


def _still_current(step: Step, before: Loaded) -> None:
    """The client's expectedVersion, and the version the facts (LoadFacts) were loaded at, are the stream's."""
    if not step.is_create and step.expected is not None and step.expected != before.version:
        raise outcome.conflict(step.aggregate_id, step.expected, before.version)
    facts = step.facts
    if facts and "atVersion" in facts and facts["atVersion"] != before.version:
        # Facts about this stream (LoadFacts) describe another version: the workflow loads them again.
        raise StreamContention(f"{step.aggregate.type} {step.aggregate_id!r} changed after its facts were loaded.",
                               [{"aggregateId": step.aggregate_id, "factsVersion": facts["atVersion"],
                                 "readVersion": before.version}])


def _decide(step: Step, before: Loaded, vault: Any) -> tuple[list[NewEvent], list[Extra]]:
    """The aggregate's decision, and the transaction items that go with it (a User's keys and reservations)."""
    command, aggregate = step.command, step.aggregate
    if not aggregate.personal_fields:
        return aggregate.decide(command["commandType"], command["data"], before.state, step.facts), []
    from chronicle import users

    vault = vault or _vault()
    opened = before.state if step.is_create else users.open_state(vault, step.aggregate_id, before.state)
    new_events = aggregate.decide(command["commandType"], command["data"], opened, step.facts)
    return users.seal_events(vault, step.aggregate_id, command["commandType"], opened, new_events)


def _vault() -> Any:
    from chronicle import aws

    return aws.vault()


def _append(step: Step, before: Loaded, records: list[dict[str, Any]], answer: dict[str, Any],
            extra_items: list[Extra]) -> list[dict[str, Any]]:
    """Append the records after `before`; a refusal that is not the stream's own move becomes its error."""
    # A client's commandId is recorded with the events (one TransactWriteItems): the client may retry it at any
    # time. A server-made one needs no record: a one-event command is a single conditional PutItem.
    log_item = CommandLog(step.store.client, step.store.command_table).item(step.command, answer) \
        if step.command["idempotent"] else None
    try:
        return step.store.append(step.aggregate_id, records, NO_STREAM if step.is_create else before.version,
                                 log_item, checks=(step.facts or {}).get("checks"), extra_items=extra_items,
                                 head_read=True, previous_hash=before.head_hash)
    except FactsChanged as moved:
        # A stream the decision relied on moved (AddService: the template changed): never the client's conflict,
        # whatever its expectedVersion; the workflow re-loads the facts and decides again.
        raise StreamContention(f"{moved.checks[0]['aggregateId']!r} changed while {step.command['commandType']} "
                               "was decided.", [{"aggregateId": c["aggregateId"], "readVersion": c["version"]}
                                                for c in moved.checks]) from None
    except ConditionFailed as failed:
        if failed.tag == "EmailUnique":
            raise BusinessRuleViolation("Another user has this email.",
                                        [{"rule": "EmailUnique", "path": "$.data.email"}]) from None
        raise StreamContention(f"{step.aggregate.type} {step.aggregate_id!r} changed while the command was "
                               "decided.", [{"aggregateId": step.aggregate_id, "condition": failed.tag}]) from None


def _moved(step: Step, before: Loaded, conflict: AppendConflict, count: int) -> dict[str, Any]:
    """The stream was not where the append expected it: this create's own earlier attempt, or the refusal."""
    if step.is_create:
        earlier = replay.earlier_create(step.store, step.aggregate, step.command, conflict.existing, count)
        if earlier is not None:
            return earlier
        # Whatever type holds the id, the same answer: it reveals no more than that the id is taken (0010).
        raise AggregateAlreadyExists(f"The id {step.aggregate_id!r} is already taken: "
                                     f"{step.command['commandType']} needs a new id.",
                                     [{"aggregateId": step.aggregate_id}]) from None
    if step.expected is not None:
        raise outcome.conflict(step.aggregate_id, step.expected, step.store.version(step.aggregate_id)) from None
    # The state machine retries this (re-load, re-decide); the client only sees it once the retries ran out.
    raise StreamContention(f"{step.aggregate.type} {step.aggregate_id!r} kept changing while the command was "
                           "decided, through every retry of the workflow; send the command again.",
                           [{"reason": "StreamContended", "aggregateId": step.aggregate_id,
                             "readVersion": before.version}]) from None
