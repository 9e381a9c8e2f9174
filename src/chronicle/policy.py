"""Who may do what (docs/reference/authorization.md): a pure policy, like the deciders, and its one application for
both sides.

Resources are strings: ``project:<id>``, ``template:<id>``, ``user:<id>``, and the patterns ``project:*``,
``template:*``, ``user:*`` and ``*``. Permissions are ``read`` < ``write`` < ``admin``: each implies the ones before
it. A grant of ``write`` on ``project:*`` therefore answers "may write project:p-1?" and "may read project:p-1?".

The facts come from the caller: the actor's own grants (folded from the actor's User stream, read consistently
from the event store, never from a read model that may lag behind a revoke), whether the actor is a bootstrap
admin (stack parameter AdminActorIds), and, per command, the actors its aggregate lets act regardless of grants
(a project's creator and owner, a template's uploader, a user themself): see ``Need``.

``load_actor`` and ``authorize`` apply it: the only functions here that read, through the loader they are given.
The command side (AppendEvents) authorizes with them, the read side (GraphQL) loads its viewer with them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chronicle.errors import Forbidden
from chronicle.ids import is_aggregate_id

PERMISSIONS = ("read", "write", "admin")
_RANK = {name: rank for rank, name in enumerate(PERMISSIONS)}


@dataclass(frozen=True)
class Actor:
    id: str
    # (resource, permission) pairs the actor holds, from its User stream
    grants: frozenset[tuple[str, str]] = frozenset()
    bootstrap_admin: bool = False  # listed in AdminActorIds: admin on `*`


@dataclass(frozen=True)
class Need:
    """What a command needs: every (permission, resource) in `all_of`, unless the actor is one of `unless`."""

    all_of: tuple[tuple[str, str], ...] = ()
    unless: frozenset[str] = field(default_factory=frozenset)


ANYONE = Need()


def covers(pattern: str, resource: str) -> bool:
    """Does a grant on `pattern` apply to `resource`? `*` covers all; `project:*` covers `project:x` and itself."""
    if pattern == "*" or pattern == resource:
        return True
    return pattern.endswith(":*") and resource.startswith(pattern[:-1]) and resource != "*"


def implies(held: str, needed: str) -> bool:
    return _RANK.get(held, -1) >= _RANK[needed]


def may(actor: Actor, permission: str, resource: str) -> bool:
    """Whether `actor` holds `permission` (or a stronger one) on `resource` (or a pattern covering it)."""
    if actor.bootstrap_admin:
        return True
    return any(covers(held_resource, resource) and implies(held, permission)
               for held_resource, held in actor.grants)


def missing(actor: Actor, need: Need) -> list[dict[str, str]]:
    """The (permission, resource) pairs of `need` the actor lacks; empty when it may go ahead."""
    if actor.id in need.unless:
        return []
    return [{"permission": permission, "resource": resource} for permission, resource in need.all_of
            if not may(actor, permission, resource)]


def is_admin(actor: Actor, resource: str = "*") -> bool:
    return may(actor, "admin", resource)


def actor_from(actor_id: str, grants: Iterable[Iterable[str]], admin_ids: Iterable[str]) -> Actor:
    return Actor(actor_id, frozenset((str(r), str(p)) for r, p in grants), actor_id in set(admin_ids))


# ---- the policy applied: one entry for the write side (AppendEvents) and the read side (GraphQL) --------------
def admin_actor_ids() -> frozenset[str]:
    """The bootstrap admins: stack parameter AdminActorIds -> ADMIN_ACTOR_IDS (comma-separated)."""
    return frozenset(a.strip() for a in os.environ.get("ADMIN_ACTOR_IDS", "").split(",") if a.strip())


def load_actor(actor_id: str, loader: Any) -> Actor:
    """The actor's grants, folded from its own User stream by `loader` (an AggregateLoader: consistent reads of
    the event store, never a read model that may lag behind a revoke)."""
    from chronicle.domain import user

    state = loader.load(user.AGGREGATE, actor_id).state if is_aggregate_id(actor_id) else user.initial_state()
    return actor_from(actor_id, [(e["resource"], e["permission"]) for e in state["permissions"]],
                      admin_actor_ids())


def authorize(aggregate: Any, command: dict[str, Any], state: dict[str, Any], loader: Any) -> None:
    """Forbidden (403) naming each permission and resource the command needs and the actor lacks."""
    actor_id = command["actorId"]
    need = aggregate.need(command["commandType"], command["data"], state, command["aggregateId"], actor_id)
    if not need.all_of or actor_id in need.unless:
        return
    lacking = missing(load_actor(actor_id, loader), need)
    if lacking:
        wanted = ", ".join(f"{m['permission']} on {m['resource']}" for m in lacking)
        raise Forbidden(f"{actor_id!r} may not {command['commandType']} here: it needs {wanted}.", lacking)
