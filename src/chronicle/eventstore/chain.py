"""The hash chain over each stream (docs/operations.md): tamper evidence for events at rest.

    hash(event N) = sha256_hex( hash(event N-1) + canonical(item N) )      hash(event 0) = GENESIS

`canonical(item)` is the event item *as stored* in DynamoDB, in DynamoDB JSON (every attribute as
``{"S": ...}``, ``{"N": ...}``, binary as base64 ``{"B": ...}``) without the ``hash`` attribute itself, serialized
with sorted keys, no whitespace, UTF-8 (non-ASCII characters as themselves). Hashing the stored form rather than a
re-serialized event means: whatever an attribute holds (eventData as its stored JSON string, ciphertext of
personal data, attributes added later), the hash covers exactly those bytes, and nothing a reader does (upcasting,
decryption) changes it. docs/eventstore.md "Hash chain" is the reference an auditor can follow.

Events stored before the chain existed have no ``hash``: the first hashed event after them chains from GENESIS,
and `verify` reports them as "unsealed before sequence N" (docs/decisions/0008-hash-chain-over-stored-items-unsealed-prefix.md),
but only where a record kept outside the event table says the stream is sealed from N (its head record or
snapshot, chronicle.eventstore.heads; or an anchor): without one, an event without a hash is a failure
(docs/decisions/0011-stream-heads-sealing-points-and-anchors.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chronicle.errors import ChronicleError

GENESIS = "0" * 64  # the "previous hash" of a stream's first event
HASH_ATTRIBUTE = "hash"

Item = dict[str, dict[str, Any]]


def _plain(value: Any) -> Any:
    """DynamoDB JSON as JSON: bytes (B, BS) become base64 text, as in AWS's own DynamoDB JSON format."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return value


def canonical(item: Item) -> str:
    """The canonical JSON of a stored event item (every attribute but `hash`)."""
    body = {name: value for name, value in item.items() if name != HASH_ATTRIBUTE}
    return json.dumps(_plain(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link(previous_hash: str, item: Item) -> str:
    return hashlib.sha256((previous_hash + canonical(item)).encode("utf-8")).hexdigest()


def seal(items: list[Item], previous_hash: str) -> str:
    """Set `hash` on each item (in order) chaining from `previous_hash`; returns the last hash."""
    for item in items:
        item.pop(HASH_ATTRIBUTE, None)
        previous_hash = link(previous_hash, item)
        item[HASH_ATTRIBUTE] = {"S": previous_hash}
    return previous_hash


def stored_hash(item: Item) -> str | None:
    value = item.get(HASH_ATTRIBUTE)
    return value.get("S") if value else None


def chain_from(previous: Item | None) -> str:
    """What the next event chains from: the previous event's hash, or GENESIS (no previous event, or an unsealed
    one written before the chain existed)."""
    return (stored_hash(previous) if previous else None) or GENESIS


class ChainBroken(ChronicleError):
    """A read met an event that fails its hash: its content or hash was changed in the table. Reads refuse it
    rather than serve (or fold) a forged event; `chronicle verify` names the first damaged event."""

    code = "InternalError"

    def __init__(self, aggregate_id: str, sequence: int, reason: str):
        self.aggregate_id, self.sequence = aggregate_id, sequence
        super().__init__(f"Event {sequence} of stream {aggregate_id!r} fails its hash chain ({reason}): the store "
                         "was changed outside Chronicle; run `chronicle verify` and restore it.",
                         [{"aggregateId": aggregate_id, "eventSequence": sequence, "reason": reason}])


class LinkChecker:
    """Checks items read in order against the chain, starting after an event whose hash is known (`previous`:
    GENESIS at the start of a stream, or a snapshot's headHash): raises ChainBroken at the first event whose stored
    hash is not sha256(previous hash + canonical(item)), or that has no hash after a sealed one."""

    def __init__(self, aggregate_id: str, previous: str | None = GENESIS):
        self.aggregate_id = aggregate_id
        self.previous = previous  # None: the previous event is not known (a read that starts mid-stream)

    def check(self, item: Item) -> Item:
        stored = stored_hash(item)
        sequence = int(item["eventSequence"]["N"])
        if stored is None:
            if self.previous not in (None, GENESIS):
                raise ChainBroken(self.aggregate_id, sequence, "no hash after a sealed event")
        elif self.previous is not None and link(self.previous, item) != stored:
            raise ChainBroken(self.aggregate_id, sequence, "the hash does not match the content")
        self.previous = stored or GENESIS
        return item


@dataclass
class ChainReport:
    """The outcome of re-computing one stream's chain."""

    aggregate_id: str
    events: int = 0  # events checked
    head: int = 0  # last sequence seen
    head_hash: str | None = None
    unsealed_before: int | None = None  # events 1..N-1 carry no hash (written before the chain existed)
    failure: dict[str, Any] | None = None  # the first failure: {"eventSequence", "reason", ...}
    sources: dict[str, int] = field(default_factory=dict)  # "table" / "archive" -> events
    notes: list[str] = field(default_factory=list)  # what holds but deserves a word (no recorded head, ...)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def as_dict(self) -> dict[str, Any]:
        return {"aggregateId": self.aggregate_id, "ok": self.ok, "events": self.events, "head": self.head,
                "headHash": self.head_hash, "unsealedBefore": self.unsealed_before, "failure": self.failure,
                "sources": self.sources, "notes": self.notes}


def verify_items(aggregate_id: str, items: Iterable[tuple[Item, str]],
                 recorded: dict[int, tuple[str, str]] | None = None) -> ChainReport:
    """Re-compute the chain over a stream's items in sequence order (each with where it came from), stopping at
    the first event whose sequence, hash or link fails, or whose hash differs from `recorded` (sequence ->
    (hash, what recorded it): a head record, a snapshot, an anchor)."""
    recorded = recorded or {}
    report = ChainReport(aggregate_id)
    previous_hash = GENESIS
    sealed = False
    expected = 1
    for item, source in items:
        sequence = int(item["eventSequence"]["N"])
        report.sources[source] = report.sources.get(source, 0) + 1
        if item.get("aggregateId", {}).get("S") != aggregate_id:
            report.failure = {"eventSequence": sequence, "reason": "the item names another stream",
                              "source": source}
            return report
        if sequence != expected:
            what = (f"event {expected} is missing (the stream jumps from {expected - 1} to {sequence})"
                    if sequence > expected else f"event {sequence} appears twice or out of order")
            report.failure = {"eventSequence": expected if sequence > expected else sequence, "reason": what,
                              "source": source}
            return report
        stored = stored_hash(item)
        if stored is None:
            if sealed:
                report.failure = {"eventSequence": sequence, "source": source,
                                  "reason": "the event has no hash but an earlier event is sealed"}
                return report
            report.unsealed_before = sequence + 1
        else:
            computed = link(previous_hash, item)
            if computed != stored:
                # Every earlier event verified, so this one's stored content or stored hash was changed (an edit,
                # or another event's item moved here).
                report.failure = {"eventSequence": sequence, "source": source,
                                  "reason": "the hash does not match the event's content and its predecessor's hash",
                                  "storedHash": stored, "computedHash": computed}
                return report
            sealed = True
            previous_hash = stored
        if sequence in recorded and stored != recorded[sequence][0]:
            report.failure = {"eventSequence": sequence, "source": source,
                              "reason": f"the hash differs from the one {recorded[sequence][1]} recorded "
                                        "(events were rewritten and re-hashed)",
                              "storedHash": stored, "recordedHash": recorded[sequence][0]}
            return report
        report.events += 1
        report.head = sequence
        report.head_hash = stored
        expected = sequence + 1
    return report

