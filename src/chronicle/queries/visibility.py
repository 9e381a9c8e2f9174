"""Who may see what on the read side (docs/reference/authorization.md): the acting viewer and its grants.

The caller runs a request inside ``acting_as(actor_id)`` (AppSync: the authenticated identity; locally: the
X-Actor-Id header). A private project is visible to the actors who may change it (its creator, its owner, `write`
holders) and `read` holders; a public one to anyone; an internal one to any authenticated actor. What an actor may
not see reads as absent (null, or left out of a list), so it does not even learn that it exists. A user's email,
and permissionMatrix, are for admins and the user themself. The viewer's grants come from its own User stream (the
event store), like the command side's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from chronicle import aws, policy
from chronicle.domain import project as project_domain
from chronicle.projections import project as project_projection

ANONYMOUS = "anonymous"
_ACTOR: ContextVar[str] = ContextVar("chronicle_actor", default=ANONYMOUS)
_VIEWER: ContextVar[policy.Actor | None] = ContextVar("chronicle_viewer", default=None)


@contextlib.contextmanager
def acting_as(actor_id: str | None) -> Iterator[None]:
    """Run queries as `actor_id` (None or empty: anonymous)."""
    tokens = (_ACTOR.set(actor_id or ANONYMOUS), _VIEWER.set(None))
    try:
        yield
    finally:
        _ACTOR.reset(tokens[0])
        _VIEWER.reset(tokens[1])


def viewer() -> policy.Actor:
    """The acting actor with its grants, loaded once per request from its User stream (consistent reads)."""
    actor = _VIEWER.get()
    if actor is None or actor.id != _ACTOR.get():
        actor = policy.load_actor(_ACTOR.get(), aws.aggregate_loader())
        _VIEWER.set(actor)
    return actor


def may_see_project(project_id: str, state: dict[str, Any]) -> bool:
    me = viewer()
    visibility = state.get("visibility", "private")
    if visibility == "public" or (visibility == "internal" and me.id != ANONYMOUS):
        return True
    return me.id in project_domain.changers(state) or policy.may(me, "read", f"project:{project_id}")


def may_see_email(user_id: str) -> bool:
    me = viewer()
    return me.id == user_id or policy.may(me, "admin", f"user:{user_id}")


def visible_projects(ids: set[str]) -> set[str]:
    """Those of `ids` whose project read model the reader may see (BatchGetItem, 100 keys a request; a project not
    projected yet stays hidden until it is)."""
    client, table, found = aws.client("dynamodb"), aws.env("PROJECT_TABLE"), set()
    pending = [{"id": {"S": i}} for i in sorted(ids)]
    while pending:
        request: dict[str, Any] = {table: {"Keys": pending[:100], "ConsistentRead": True}}
        pending = pending[100:]
        while request:
            page = client.batch_get_item(RequestItems=request)
            for item in page["Responses"].get(table, []):
                state = project_projection.from_item(item)
                if may_see_project(item["id"]["S"], state):
                    found.add(item["id"]["S"])
            request = page.get("UnprocessedKeys") or {}
    return found


def user_event_opener(user_id: str) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """How the viewer sees a User stream's events: None when it may not see them at all."""
    from chronicle.users import open_event_data

    me = viewer()
    if me.id != user_id and not policy.may(me, "read", f"user:{user_id}"):
        return None
    vault = aws.vault()
    key = vault.data_key(user_id)
    show_email = may_see_email(user_id)

    def opened(event: dict[str, Any]) -> dict[str, Any]:
        data = open_event_data(vault, user_id, event["eventType"], event["eventData"], key)
        if not show_email and "email" in data:
            data = {**data, "email": None}
        return data

    return opened
