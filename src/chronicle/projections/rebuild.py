"""Rebuild the read models from the event store: the repair after the projection DLQ alarm, or after a change
to a read model's shape (docs/operations.md, `chronicle projections rebuild`).

Folded models (projects, templates) fold each stream whole with the same ``evolve`` the projector uses and never
move an item backwards (chronicle.projections.folded.rebuild); the template usage model replays every project's
service events through its own idempotent apply (chronicle.projections.usage.rebuild).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from chronicle.eventstore import EventStore
from chronicle.projections import folded
from chronicle.projections.folded import RebuildReport
from chronicle.projections.project import MODEL

__all__ = ["RebuildReport", "project_ids", "rebuild"]


def project_ids(store: EventStore) -> Iterator[str]:
    """Every Project stream id, from the first event of each stream (one Scan of the event table, paginated)."""
    return folded.stream_ids(store, MODEL.created_event)


def rebuild(store: EventStore, table: str, ids: Iterable[str] | None = None) -> RebuildReport:
    """The project read model."""
    return folded.rebuild(store, table, MODEL, ids)
