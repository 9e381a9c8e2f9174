"""Make moto's DynamoDB behave atomically under threads, as DynamoDB does.

Why: moto 5.2.5's ``DynamoDBBackend`` has no lock. A conditional ``PutItem`` checks its condition and then
writes, and ``TransactWriteItems`` deep-copies every table it touches, applies its items one by one and, when
one fails, puts the copies back in place. With several threads (the local runtime's server, the concurrency
tests) that means:

- two conditional writes on the same key can both succeed (both check "not exists", then both write);
- a cancelled transaction restores a copy taken before a concurrent writer's success, silently erasing it;
- readers and the deep copy iterate dicts another thread is growing: ``RuntimeError: dictionary changed size
  during iteration`` surfaces as a 500.

``tests/integration/test_moto_atomic.py`` shows each of these without the patch and their absence with it.
Real DynamoDB serializes conditional writes and transactions per item; one process-wide lock around the
backend's operations is the simple equivalent (moto is GIL-bound anyway, so little is lost).

Usage::

    from chronicle.local import moto_atomic
    moto_atomic.install()    # before or after mock_aws()/ThreadedMotoServer starts
    ...
    moto_atomic.uninstall()  # restores moto's own methods once every install() has been undone

Installs are counted (the local runtime and a test fixture may both hold the patch): the patch is applied by the
first install() and removed by the matching last uninstall().

The patched methods are listed in ``WRITE_OPERATIONS`` and ``READ_OPERATIONS``; ``installed()`` tells whether
the patch is active. An upgrade of moto that renames them makes ``install()`` raise, so the pin stays honest.

Cheap transactions (``install(fast_transactions=True)``, the default): moto's rollback copy is a deep copy of
every table a transaction touches, so each TransactWriteItems costs time proportional to the *whole table*
(measured: ~35 us per stored item, 50 ms per transaction at 2,000 events, 350 ms at 10,000). Under the lock a
transaction made only of Put, Delete and ConditionCheck can instead check every condition first, then write,
undoing its own few writes if one of them is refused by validation. Transactions with an Update still go to
moto's own code. Conditions, cancellation reasons and errors are those of moto's implementation.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any
from collections.abc import Callable, Iterator

from . import moto_patches, moto_query

# Writes must be serialized for conditions and transactions to be atomic.
WRITE_OPERATIONS = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item",
                    "execute_statement", "execute_transaction", "batch_execute_statement")
# Reads take the same lock so that they never see half a transaction (or a dict that is being resized).
READ_OPERATIONS = ("get_item", "query", "scan", "batch_get_item", "transact_get_items")

# Reentrant: transact_write_items calls put_item/get_item of the same backend.
LOCK = threading.RLock()

_originals: dict[str, Callable[..., Any] | None] = {}  # None: the method was inherited
_holders = 0  # install() calls not yet undone
_options: dict[str, bool] = {}  # how the patch in place was installed
_install_lock = threading.Lock()


def _backend_class() -> type:
    from moto.dynamodb.models import DynamoDBBackend

    return DynamoDBBackend


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return method(*args, **kwargs)

    wrapper.__chronicle_moto_atomic__ = True  # type: ignore[attr-defined]
    return wrapper


def _cheap_transact_write_items(original: Callable[..., Any]) -> Callable[..., Any]:
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (ConditionalCheckFailed, MultipleTransactionsException,
                                          TooManyTransactionsException, TransactionCanceledException)

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        if any(len(item) != 1 or next(iter(item)) not in ("Put", "Delete", "ConditionCheck")
               for item in transact_items):
            return original(self, transact_items)  # Update (or a malformed item): moto's own way
        with LOCK:
            plan, errors, seen = [], [], set()
            for item in transact_items:  # 1. check everything, write nothing
                op_type, op = next(iter(item.items()))
                table = self.get_table(op["TableName"])
                if op_type == "Put":
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                else:
                    key = op["Key"]
                unique = (op["TableName"], str(dict(sorted(key.items()))))
                if unique in seen:
                    raise MultipleTransactionsException()
                seen.add(unique)
                current = self.get_item(op["TableName"], key)
                failed = None
                if op.get("ConditionExpression") is not None:
                    condition = get_filter_expression(op["ConditionExpression"], op.get("ExpressionAttributeNames"),
                                                      op.get("ExpressionAttributeValues"))
                    if not condition.expr(current):
                        old = current.to_json()["Attributes"] if current and op.get(
                            "ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None
                        failed = ("ConditionalCheckFailed", ConditionalCheckFailed().message, old)
                errors.append(failed or (None, None, None))
                plan.append((op_type, op, key, current))
            if any(code is not None for code, _, _ in errors):
                raise TransactionCanceledException(errors)
            done = []
            try:  # 2. write; undo our own writes if validation refuses one
                for op_type, op, key, current in plan:
                    if op_type == "Put":
                        self.put_item(op["TableName"], op["Item"])
                    elif op_type == "Delete":
                        self.delete_item(op["TableName"], key)
                    else:
                        continue
                    done.append((op["TableName"], key, current))
            except Exception:
                for table_name, key, before in reversed(done):
                    if before is None:
                        self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, before.to_json()["Attributes"])
                raise
        return None

    transact_write_items.__chronicle_moto_atomic__ = True  # type: ignore[attr-defined]
    return transact_write_items


def install(reads: bool = True, fast_transactions: bool = True, fast_queries: bool = True) -> None:
    """Serialize moto's DynamoDB operations with one lock (writes always; reads too unless reads=False),
    replace the whole-table rollback copy of Put/Delete/ConditionCheck transactions (unless
    fast_transactions=False), and let Query read only the items its key condition can match (unless
    fast_queries=False; see chronicle.local.moto_query)."""
    global _holders
    with _install_lock:
        _holders += 1
        if _originals:
            return
        _options.update(reads=reads, fast_transactions=fast_transactions, fast_queries=fast_queries)
        if fast_queries:
            moto_query.install()
        backend = _backend_class()
        names = WRITE_OPERATIONS + (READ_OPERATIONS if reads else ())
        for name in names:  # each registered and checked in chronicle.local.moto_patches
            moto_patches.original(f"moto.dynamodb.models:DynamoDBBackend.{name}")
        for name in names:
            _originals[name] = backend.__dict__.get(name)
            setattr(backend, name, _serialized(getattr(backend, name)))
        if fast_transactions:
            backend.transact_write_items = _cheap_transact_write_items(backend.transact_write_items)


def uninstall() -> None:
    """Undo one install(); the last one puts moto's own methods back."""
    global _holders
    with _install_lock:
        _holders = max(0, _holders - 1)
        if _holders:
            return
        moto_query.uninstall()
        backend = _backend_class()
        for name, original in _originals.items():
            if original is None:
                delattr(backend, name)
            else:
                setattr(backend, name, original)
        _originals.clear()


def installed() -> bool:
    return bool(_originals)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """moto's own behaviour inside the block, whoever holds the patch (for the tests that show why it exists).
    Installs made inside are undone on exit; the holders from before get the patch back as they had it."""
    global _holders
    with _install_lock:
        held, options = _holders, dict(_options)
    while installed():
        uninstall()
    try:
        yield
    finally:
        while installed():
            uninstall()
        for _ in range(held):
            install(**options)
