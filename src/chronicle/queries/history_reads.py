"""The audit trail's resolvers; the bounds, tokens and reading are chronicle.history_page's."""

from __future__ import annotations

from typing import Any

from chronicle import history_page


def history(aggregateId: str, fromVersion: int | None = None, toVersion: int | None = None) -> list[dict[str, Any]]:
    """The stream's events, if the actor may see the stream (else empty): at most history_page.MAX_EVENTS, a range
    holding more is refused (historyPage pages through any). A User event's personal fields are opened for those
    allowed to see them; once the user's key is erased they are null and the data says `erased: true`."""
    history_page.ensure_room()
    events, more = history_page.read_history(aggregateId, fromVersion, toVersion, history_page.MAX_EVENTS)
    if more:
        raise history_page.too_many(fromVersion or 1, toVersion)
    return history_page.charged(events)


def historyPage(aggregateId: str, fromVersion: int | None = None, toVersion: int | None = None,
                limit: int | None = None, nextToken: str | None = None) -> dict[str, Any]:
    return history_page.page(aggregateId, fromVersion, toVersion, limit, nextToken)
