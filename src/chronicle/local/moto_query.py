"""moto's DynamoDB Query, at DynamoDB's cost: only the items the key condition can match.

moto 5.2.5 answers a Query on a table by walking every item of the *table*, then sorting the whole *partition*,
then testing the sort key condition on each item. DynamoDB seeks in the partition's sorted index instead, so its
cost follows the items returned. For an event store that difference is everything: loading the 5-event tail of a
10,000-event stream (after a snapshot) costs DynamoDB a few items and costs moto the whole table.

This module keeps, on each moto ``Table``, the sorted numbers of each partition's numeric sort key (maintained on
``put_item`` / ``delete_item``, rebuilt whenever it does not match the partition), and hands moto's own ``query``
a view of the table whose ``all_items()`` is just the candidates the key condition allows, plus one neighbour on
each side. Everything else (the exact condition test, order, paging, Limit, the 1 MB page, projections, filters)
is moto's own code, so results are moto's (tests/integration/test_moto_query.py compares them). One difference
remains: moto also ends a page at 1 MB counting items *outside* the key condition after the first neighbour; this
path does not (nor does DynamoDB). Index queries, tables without a sort key and non-numeric sort keys go to moto
unchanged.

    moto_query.install()    # idempotent (chronicle.local.moto_atomic.install() calls it)
    moto_query.uninstall()
"""

from __future__ import annotations

import bisect
import functools
import inspect
import threading
from decimal import Decimal, InvalidOperation
from typing import Any

from . import moto_patches

_ATTR = "_chronicle_sort_index"  # on moto's Table: {hash DynamoType: (partition dict, [(Decimal, range key)])}
_installed: dict[str, Any] = {}
_lock = threading.Lock()
RANGE_OPS = {"EQ", "=", "LT", "<", "LE", "<=", "GT", ">", "GE", ">=", "BETWEEN"}


def _table_class() -> type:
    from moto.dynamodb.models.table import Table

    return Table


def _number(value: Any) -> Decimal | None:
    if getattr(value, "type", None) != "N":
        return None
    try:
        return Decimal(value.value)
    except (InvalidOperation, TypeError):
        return None


def _sorted_keys(table: Any, hash_key: Any, partition: dict) -> list[tuple[Decimal, Any]] | None:
    """The partition's (number, range key) pairs in order; None when a sort key is not a number."""
    index = table.__dict__.setdefault(_ATTR, {})
    entry = index.get(hash_key)
    if entry is not None and entry[0] is partition and len(entry[1]) == len(partition):
        return entry[1]
    pairs = []
    for range_key in partition:
        number = _number(range_key)
        if number is None:
            index.pop(hash_key, None)
            return None
        pairs.append((number, range_key))
    pairs.sort(key=lambda pair: pair[0])
    index[hash_key] = (partition, pairs)
    return pairs


def _candidates(table: Any, hash_key: Any, comparison: str | None, operands: list[Any]) -> list[Any] | None:
    """The partition's items the key condition can match (a superset), or None to let moto do it all."""
    partition = table.items.get(hash_key) if hasattr(table.items, "get") else None
    if partition is None:
        return []
    if not isinstance(partition, dict):
        return None
    if comparison is None:
        return list(partition.values())
    if comparison not in RANGE_OPS:
        return None
    numbers = [_number(o) for o in operands]
    if not numbers or any(n is None for n in numbers):
        return None
    pairs = _sorted_keys(table, hash_key, partition)
    if pairs is None:
        return None
    low, high = 0, len(pairs)
    if comparison in ("EQ", "=", "GT", ">", "GE", ">=", "BETWEEN"):
        low = bisect.bisect_left(pairs, numbers[0], key=lambda pair: pair[0])
    if comparison in ("EQ", "=", "LT", "<", "LE", "<="):
        high = bisect.bisect_right(pairs, numbers[0], key=lambda pair: pair[0])
    elif comparison == "BETWEEN":
        high = bisect.bisect_right(pairs, numbers[-1], key=lambda pair: pair[0])
    # One neighbour on each side: moto ends a page (LastEvaluatedKey) when Limit is reached *and* another item of
    # the partition follows in the query's direction, matching or not; keep that item so pages end as moto's do.
    return [partition[range_key] for _, range_key in pairs[max(0, low - 1):max(low, high) + 1]]


class _View:
    """The table as moto's query sees it: its own attributes, but only the candidate items."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table, self._items = table, items

    def all_items(self) -> list[Any]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _query(original: Any) -> Any:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs).arguments
        conditions = bound.get("range_key_conditions") or []
        if bound.get("index_name") or bound.get("hash_key") is None or self.range_key_attr is None \
                or len(bound.get("hash_key_conditions") or []) > 1 or len(conditions) > 1 \
                or any(condition[0] != self.range_key_attr for condition in conditions):
            return original(self, *args, **kwargs)
        candidates = _candidates(self, bound["hash_key"], bound.get("range_comparison"),
                                 list(bound.get("range_objs") or []))
        if candidates is None:
            return original(self, *args, **kwargs)
        return original(_View(self, candidates), *args, **kwargs)

    return query


def _put_item(original: Any) -> Any:
    @functools.wraps(original)
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original(self, *args, **kwargs)
        entry = self.__dict__.get(_ATTR, {}).get(getattr(item, "hash_key", None))
        if entry is not None:
            partition, pairs = entry
            number = _number(item.range_key)
            if number is None or self.items.get(item.hash_key) is not partition:
                self.__dict__[_ATTR].pop(item.hash_key, None)
            elif len(pairs) < len(partition):  # a new sort key (an overwrite changes no key)
                bisect.insort(pairs, (number, item.range_key), key=lambda pair: pair[0])
        return item

    return put_item


def _delete_item(original: Any) -> Any:
    @functools.wraps(original)
    def delete_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original(self, *args, **kwargs)
        if item is not None:
            self.__dict__.get(_ATTR, {}).pop(getattr(item, "hash_key", None), None)
        return item

    return delete_item


def install() -> None:
    with _lock:
        if _installed:
            return
        table = _table_class()
        for name, wrap in (("query", _query), ("put_item", _put_item), ("delete_item", _delete_item)):
            moto_patches.original(f"moto.dynamodb.models.table:Table.{name}")  # registered, checked
            original = table.__dict__.get(name)
            if original is None:
                raise moto_patches.MotoPatchError(f"moto's Table no longer defines {name} itself")
            _installed[name] = original
            setattr(table, name, wrap(original))


def uninstall() -> None:
    with _lock:
        table = _table_class()
        for name, original in _installed.items():
            setattr(table, name, original)
        _installed.clear()


def installed() -> bool:
    return bool(_installed)
