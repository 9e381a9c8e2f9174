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

    @property
    def commands(self) -> frozenset[str]:
        return self.create_commands | self.update_commands

    def fold(self, events: list[dict[str, Any]], state: State | None = None) -> State:
        state = self.initial_state() if state is None else state
        for event in events:
            state = self.evolve(state, event)
        return state


def _registry() -> dict[str, Aggregate]:
    from chronicle.domain import project, template

    return {aggregate.type: aggregate for aggregate in (project.AGGREGATE, template.AGGREGATE)}


AGGREGATES: dict[str, Aggregate] = _registry()


def aggregate_for_command(command_type: str) -> Aggregate:
    for aggregate in AGGREGATES.values():
        if command_type in aggregate.commands:
            return aggregate
    raise UnknownCommand(f"There is no command named {command_type!r}.",
                         [{"path": "$.commandType", "message": f"known commands: {sorted(all_commands())}"}])


def all_commands() -> set[str]:
    return {command for aggregate in AGGREGATES.values() for command in aggregate.commands}
