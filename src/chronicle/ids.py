"""What an aggregate id looks like (schemas/command-envelope.json's `aggregateId`): 1 to 128 characters of
letters, digits and ``._:@-``, starting with a letter or digit, matched against the whole text (no trailing newline).

Typed id prefixes (docs/decisions/0010): every stream shares one key space, so a new Project's id starts with
``project-`` and a new Template's with ``template-`` (whether the client picks it or the server makes it), and no
actor id (a User's stream id) may start with either. Ids of different types can then never collide: a client
cannot take a future user's id with a CreateProject, nor a user a project's. Streams created before the rule keep
their ids and stay addressable by every non-create command.
"""

from __future__ import annotations

import re
import uuid

_AGGREGATE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")

# The prefix of every new stream id of these aggregate types; User ids are actor ids and carry none of them.
ID_PREFIXES = {"Project": "project-", "Template": "template-"}
RESERVED_PREFIXES = tuple(ID_PREFIXES.values())


def is_aggregate_id(text: str) -> bool:
    return _AGGREGATE_ID.fullmatch(text) is not None


def new_id(aggregate_type: str) -> str:
    """A server-made id for a new stream of ``aggregate_type``: its prefix (if it has one) and a random UUID."""
    return ID_PREFIXES.get(aggregate_type, "") + str(uuid.uuid4())


def reserved_prefix(text: str) -> str | None:
    """The typed prefix ``text`` starts with (an id only a Project or Template may have), else None."""
    return next((prefix for prefix in RESERVED_PREFIXES if text.startswith(prefix)), None)


def create_id_problem(aggregate_type: str, aggregate_id: str) -> str | None:
    """Why a client-chosen id cannot name a new stream of ``aggregate_type`` (None when it can)."""
    prefix = ID_PREFIXES.get(aggregate_type)
    if prefix is not None:
        if aggregate_id.startswith(prefix) and len(aggregate_id) > len(prefix):
            return None
        return f"a new {aggregate_type}'s id must start with {prefix!r} (and something after it), e.g. '{prefix}1'"
    taken = reserved_prefix(aggregate_id)
    if taken is not None:
        return f"ids starting with {taken!r} are reserved for another aggregate type; a {aggregate_type} id may not take it"
    return None
