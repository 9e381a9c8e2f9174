"""The dead-letter queues' messages: read without receiving them (the console), and kept across restarts.

moto keeps SQS messages in memory only. The dead-letter queues hold what the local runtime could not deliver (an
event a projector refused, a re-publish that ran out of tries): losing them on a restart would lose the only
record of a failure. :class:`DeadLetterKeeper` journals the whole content of a dead-letter queue after each change
(``{"q": [queue, [message bodies]]}``, small: these queues are meant to stay empty) and puts it back on start.
Only the bodies are kept: message ids, receive counts and visibility start afresh, as after a redrive.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from .emulator import ACCOUNT_ID, REGION

log = logging.getLogger("chronicle.local.queue_store")


def _backend() -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[ACCOUNT_ID][REGION]


def _messages(queue_name: str) -> list[Any]:
    try:
        queue = _backend().get_queue(queue_name)
    except Exception:  # noqa: BLE001 - no such queue
        return []
    with queue._messages_lock:
        return list(queue._messages)


def peek(queue_name: str) -> list[dict[str, Any]]:
    """Every message of the queue, in order, without receiving it."""
    return [{"messageId": m.id, "body": m.body, "sentTimestamp": m.sent_timestamp,
             "receiveCount": m.approximate_receive_count} for m in _messages(queue_name)]


class DeadLetterKeeper:
    """Journals the dead-letter queues named ``queues`` (queue names) through ``append`` (the journal's)."""

    def __init__(self, queues: set[str]) -> None:
        self.queues = set(queues)
        self.append: Callable[[dict[str, Any]], None] | None = None
        self._patches: list[tuple[str, Any]] = []
        self._local = threading.local()

    def capture(self) -> dict[str, list[str]]:
        return {name: [m.body for m in _messages(name)] for name in sorted(self.queues)}

    def restore(self, content: dict[str, list[str]]) -> None:
        backend = _backend()
        for name, bodies in content.items():
            if name not in self.queues or name not in backend.queues:
                continue
            for message in _messages(name):
                backend.get_queue(name)._messages.remove(message)
            for body in bodies:
                backend.send_message(name, body)

    def install(self) -> None:
        from moto.sqs.models import SQSBackend

        from . import moto_patches

        for method in ("send_message", "delete_message", "purge_queue"):
            _owner, _name, original = moto_patches.original(f"moto.sqs.models:SQSBackend.{method}")  # checked
            self._patches.append((method, original))
            setattr(SQSBackend, method, self._journaled(original))

    def uninstall(self) -> None:
        from moto.sqs.models import SQSBackend

        for method, original in reversed(self._patches):
            setattr(SQSBackend, method, original)
        self._patches.clear()

    def _journaled(self, original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)
        keeper = self

        @functools.wraps(original)
        def wrapper(backend: Any, *args: Any, **kwargs: Any) -> Any:
            name = signature.bind(backend, *args, **kwargs).arguments.get("queue_name")
            if name not in keeper.queues or getattr(keeper._local, "busy", False):
                return original(backend, *args, **kwargs)
            keeper._local.busy = True
            try:
                return original(backend, *args, **kwargs)
            finally:
                keeper._local.busy = False
                if keeper.append is not None:
                    keeper.append({"q": [name, [m.body for m in _messages(name)]]})

        return wrapper
