"""Bounds on the audit trail's answers: a page size with a token, a cap on one ``history`` answer, and a byte
budget for the history of one request (docs/input-limits.md).

``history(aggregateId, fromVersion, toVersion)`` keeps its shape: it answers at most ``MAX_EVENTS`` events and
refuses (ValidationError) a range that holds more, naming the way out: a narrower range, or ``historyPage``.
``historyPage(aggregateId, fromVersion, toVersion, limit, nextToken)`` pages through any stream: ``limit`` 1-100
(default 20), ``nextToken`` the previous page's. Every event put into an answer is charged to the budget of the
request (``budget``: the local /graphql opens one per request; in AWS each resolver call is its own Lambda call,
so the budget is that one answer's): 50 aliases of a long history stop at ``MAX_ANSWER_BYTES``, not at 134 MB.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
import json
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from chronicle.errors import PayloadTooLarge, ValidationError
from chronicle.queries.paging import page_size  # historyPage's limit (1-100, default 20), as every list's

MAX_EVENTS = 1000  # events in one history answer
MAX_ANSWER_BYTES = 4 * 1024 * 1024  # history events in one request's answer (JSON), all fields together

_SPENT: ContextVar[list[int] | None] = ContextVar("chronicle_answer_bytes", default=None)


@contextlib.contextmanager
def budget() -> Iterator[None]:
    """One request: every history event answered inside is charged to one budget of MAX_ANSWER_BYTES."""
    token = _SPENT.set([0])
    try:
        yield
    finally:
        _SPENT.reset(token)


def ensure_room() -> None:
    """Refuse before reading anything once the request's budget is spent (later aliases cost no reads)."""
    spent = _SPENT.get()
    if spent is not None and spent[0] >= MAX_ANSWER_BYTES:
        raise _too_large(spent[0])


def _too_large(total: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The answer would hold over {MAX_ANSWER_BYTES} bytes of history events; ask for fewer: "
                           "historyPage with a limit, or a narrower fromVersion/toVersion, and fewer history fields "
                           "per request.", [{"bytes": total, "limit": MAX_ANSWER_BYTES}])


def charged(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``events`` once charged to the request's budget (or, outside any, to a budget of their own)."""
    spent = _SPENT.get()
    total = spent[0] if spent is not None else 0
    for event in events:
        total += len(json.dumps(event))
        if total > MAX_ANSWER_BYTES:
            if spent is not None:
                spent[0] = total  # the rest of the request is refused before it reads
            raise _too_large(total)
    if spent is not None:
        spent[0] = total
    return events


def too_many(first: int, last: int | None) -> ValidationError:
    upto = f"toVersion {last}" if last is not None else "the stream's end"
    return ValidationError(f"history answers at most {MAX_EVENTS} events and versions {first} to {upto} hold more: "
                           f"ask for a range (fromVersion/toVersion) of at most {MAX_EVENTS}, or page with "
                           "historyPage(aggregateId, limit, nextToken).", [{"path": "$.toVersion"}])


def token(aggregate_id: str, next_version: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"a": aggregate_id, "v": next_version}).encode()).decode()


def untoken(aggregate_id: str, text: str) -> int:
    """The version a nextToken of this stream's pages starts at; ValidationError for anything else."""
    forged = ValidationError("nextToken is not a token this API returned for this aggregateId (pass the nextToken "
                             "of the previous page of the same query, unchanged).", [{"path": "$.nextToken"}])
    try:
        decoded = json.loads(base64.urlsafe_b64decode(text.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise forged from None
    if not (isinstance(decoded, dict) and set(decoded) == {"a", "v"} and decoded["a"] == aggregate_id
            and type(decoded["v"]) is int and decoded["v"] >= 1):
        raise forged
    return int(decoded["v"])


def page(aggregate_id: str, from_version: int | None, to_version: int | None, limit: int | None,
         next_token: str | None) -> dict[str, Any]:
    """historyPage: up to ``limit`` events from ``fromVersion`` (or where ``nextToken`` says), and the token of
    the next page (null after the last event of the range)."""
    size = page_size(limit)
    ensure_room()
    first = untoken(aggregate_id, next_token) if next_token else (from_version or 1)
    if to_version is not None and first > to_version:
        return {"items": [], "nextToken": None}
    items, more = read_history(aggregate_id, first, to_version, size)
    following = items[-1]["eventSequence"] + 1 if more and items else None
    return {"items": charged(items), "nextToken": token(aggregate_id, following) if following else None}


def read_history(aggregateId: str, fromVersion: int | None, toVersion: int | None, most: int
                 ) -> tuple[list[dict[str, Any]], bool]:
    """Up to `most` of the stream's events as the reader may see them, and whether the range holds more."""
    from chronicle import aws
    from chronicle.domain import AGGREGATES
    from chronicle.eventstore import chain
    from chronicle.eventstore.checked import checked_items
    from chronicle.eventstore.items import dumps, from_item
    from chronicle.queries.visibility import may_see_project, user_event_opener

    for name, value in (("fromVersion", fromVersion), ("toVersion", toVersion)):
        if value is not None and value < 1:
            raise ValidationError(f"{name} counts from 1, got {value}.", [{"path": f"$.{name}"}])
    store = aws.event_store()
    # archived ranges are read through S3; each entry keeps its stored item for the chain's canonical form
    # a forged event is refused (ChainBroken), never served
    items = list(itertools.islice(checked_items(store, aggregateId, fromVersion or 1, toVersion), most + 1))
    more = len(items) > most
    events = [(item, store.schemas.upcast(from_item(item))) for item in items[:most]]
    if not events:
        return [], False
    kind = events[0][1]["metadata"].get("aggregateType")
    opener = None
    if kind == "Project":
        state = aws.aggregate_loader().load(AGGREGATES["Project"], aggregateId).state
        if not may_see_project(aggregateId, state):
            return [], False
    elif kind == "User":
        opener = user_event_opener(aggregateId)
        if opener is None:
            return [], False
    return [{"eventId": e["eventId"], "eventType": e["eventType"], "eventSequence": e["eventSequence"],
             "timestamp": e["timestamp"], "correlationId": e["correlationId"], "version": e["version"],
             "storedVersion": e.get("storedVersion", e["version"]), "actorId": e["metadata"].get("actorId"),
             "data": dumps(opener(e) if opener else e["eventData"]),
             # the hash chain, for an auditor: hash = sha256(previous event's hash + canonical) (docs/eventstore.md)
             "hash": e.get("hash"), "canonical": chain.canonical(item)} for item, e in events], more
