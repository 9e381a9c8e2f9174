"""Reads that refuse an event failing its hash (docs/eventstore.md "Reading a damaged stream").

A read of first..last also reads event first-1 (when first > 1) to know what event `first` chains from, and raises
chronicle.eventstore.chain.ChainBroken at the first event whose content or hash was changed: a forged event is
never served. The check is sha256 over what is read anyway: one more event per ranged read, no other request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chronicle.eventstore.chain import GENESIS, LinkChecker
from chronicle.eventstore.store import EventStore


def checked_items(store: EventStore, aggregate_id: str, first: int = 1,
                  last: int | None = None) -> Iterator[dict[str, Any]]:
    first = max(first, 1)
    checker = LinkChecker(aggregate_id, GENESIS if first == 1 else None)
    for item in store.iter_items(aggregate_id, max(first - 1, 1), last):
        checker.check(item)
        if int(item["eventSequence"]["N"]) >= first:
            yield item
