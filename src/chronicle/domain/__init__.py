"""The pure core: one module per aggregate, each a Decider (`decide`, `evolve`, `initial_state`).

Nothing here does I/O. Handlers, the event store and the local runtime are adapters around these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from chronicle.errors import UnknownCommand

State = dict[str, Any]
# What decide() returns: the new events as (eventType, data); the application adds ids, sequence and metadata.
NewEvent = tuple[str, dict[str, Any]]
# State fields naming the actor that created a stream: it may change the stream without a grant (docs/reference/authorization.md).
CREATOR_FIELDS = ("createdBy", "uploadedBy")


@dataclass(frozen=True)
class Aggregate:
    """One aggregate type: its commands, and the two pure functions that define it."""

    type: str
    create_commands: frozenset[str]
    update_commands: frozenset[str]
    initial_state: Callable[[], State]
    # decide(commandType, data, state, facts): facts are what a workflow step loaded for the command from
    # elsewhere (another stream, S3), see chronicle.facts; None for commands that need none.
    decide: Callable[[str, dict[str, Any], State, dict[str, Any] | None], list[NewEvent]]
    evolve: Callable[[State, dict[str, Any]], State]
    # Bumped whenever the state's shape or evolve() changes: snapshots built with another value are not trusted.
    state_version: int = 1
    # Take a snapshot every N events.
    snapshot_every: int = 50
    event_types: frozenset[str] = field(default_factory=frozenset)
    # docs/reference/authorization.md: (command_type, data, state, aggregate_id, actor_id) -> chronicle.policy.Need. Without one,
    # create commands are open to anyone authenticated and the others need `write` on `<type>:<id>`, unless the
    # actor is the stream's creator (`createdBy` / `uploadedBy` in the state, from the first event's actorId).
    authorize: Callable[[str, dict[str, Any], State, str, str], Any] | None = None
    # A create command without an aggregateId acts on the actor's own id (RegisterUser registers the caller).
    default_id_is_actor: bool = False
    # Fields of this aggregate's events that are personal data: stored sealed (chronicle.personal).
    personal_fields: tuple[str, ...] = ()

    @property
    def commands(self) -> frozenset[str]:
        return self.create_commands | self.update_commands

    def fold(self, events: list[dict[str, Any]], state: State | None = None) -> State:
        state = self.initial_state() if state is None else state
        for event in events:
            state = self.evolve(state, event)
        return state

    def resource(self, aggregate_id: str) -> str:
        """The docs/reference/authorization.md resource name of one stream: project:<id>, template:<id>, user:<id>."""
        return f"{self.type.lower()}:{aggregate_id}"

    def need(self, command_type: str, data: dict[str, Any], state: State, aggregate_id: str, actor_id: str) -> Any:
        from chronicle.policy import ANYONE, Need

        if self.authorize is not None:
            return self.authorize(command_type, data, state, aggregate_id, actor_id)
        if command_type in self.create_commands:
            return ANYONE
        creators = frozenset(state[k] for k in CREATOR_FIELDS if isinstance(state.get(k), str))
        return Need((("write", self.resource(aggregate_id)),), creators)


def _registry() -> dict[str, Aggregate]:
    from chronicle.domain import project, template, user

    return {aggregate.type: aggregate for aggregate in (project.AGGREGATE, template.AGGREGATE, user.AGGREGATE)}


AGGREGATES: dict[str, Aggregate] = _registry()


def aggregate_for_command(command_type: str) -> Aggregate:
    for aggregate in AGGREGATES.values():
        if command_type in aggregate.commands:
            return aggregate
    raise UnknownCommand(f"There is no command named {command_type!r}.",
                         [{"path": "$.commandType", "message": f"known commands: {sorted(all_commands())}"}])


def all_commands() -> set[str]:
    return {command for aggregate in AGGREGATES.values() for command in aggregate.commands}
