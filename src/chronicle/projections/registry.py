"""The read models, registered in one table as commands are (chronicle.domain): each row says what a model
follows, where it is stored and how it is applied, rebuilt and announced.

The table drives:
- the projector Lambdas (``functions/<x>_projector/app.py``: ``handler = projector_handler_for("<name>")``);
- ``chronicle projections rebuild`` (one option per model, one rebuild path: ``rebuild(name, store, table, ids)``);
- the change subscriptions: a model with ``changed`` set announces ``<Changed>Changed`` after each write, which
  template.yaml's ``Fn::ForEach::ChangeSubscriptions`` turns into ``Mutation.publish<Changed>Changed`` (one
  resolver definition, callable by the subscription rules' role only) and ``Subscription.on<Changed>Changed``.

tests/unit/test_read_model_registry.py fails when a model is half-wired: a row without its projector function,
EventBridge rule, table, environment variable or GraphQL types in template.yaml / api/schema.graphql, or a
projector in template.yaml without a row. docs/architecture.md, "Adding a read model", is the checklist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chronicle.eventstore import EventStore
from chronicle.projections import folded, usage
from chronicle.projections import project as project_model
from chronicle.projections import template as template_model
from chronicle.projections import user as user_model
from chronicle.projections.folded import Applied, RebuildReport

Apply = Callable[[dict[str, Any], EventStore, str], Applied]
Rebuild = Callable[[EventStore, str, Iterable[str] | None], RebuildReport]


@dataclass(frozen=True)
class ReadModel:
    name: str  # `chronicle projections rebuild --read-model NAME`
    aggregate_type: str  # the events it follows: EventBridge source chronicle.<aggregate_type>
    table_env: str  # the environment variable naming its table (template Globals)
    table_resource: str  # its table's logical id in template.yaml
    function: str  # its projector's logical id in template.yaml
    option: str  # the rebuild option naming its table (--<option>)
    counted: str  # what a rebuild counts, for its report line
    apply: Apply
    rebuild: Rebuild
    changed: str | None = None  # "Project": announces ProjectChanged, feeding Subscription.onProjectChanged

    @property
    def detail_type(self) -> str | None:
        return f"{self.changed}Changed" if self.changed else None


def _folded(model: folded.FoldedModel) -> tuple[Apply, Rebuild]:
    return (lambda event, store, table: folded.apply(event, store, table, model),
            lambda store, table, ids: folded.rebuild(store, table, model, ids))


def _read_models() -> dict[str, ReadModel]:
    rows = [
        ReadModel("projects", "Project", "PROJECT_TABLE", "ProjectReadModelTable", "ProjectProjectorFunction",
                  "read-model-table", "project(s)", *_folded(project_model.MODEL), changed="Project"),
        ReadModel("templates", "Template", "TEMPLATE_TABLE", "TemplateReadModelTable", "TemplateProjectorFunction",
                  "template-table", "template(s)", *_folded(template_model.MODEL), changed="Template"),
        ReadModel("template-usage", "Project", "USAGE_TABLE", "ServiceUsageReadModelTable",
                  "TemplateUsageProjectorFunction", "usage-table", "project(s)' service usage", usage.apply,
                  usage.rebuild),
        ReadModel("users", "User", "USER_TABLE", "UserReadModelTable", "UserProjectorFunction", "user-table",
                  "user(s)", *_folded(user_model.MODEL), changed="User"),
    ]
    return {row.name: row for row in rows}


READ_MODELS: dict[str, ReadModel] = _read_models()


def rebuild(name: str, store: EventStore, table: str, ids: Iterable[str] | None = None) -> RebuildReport:
    """Fold the event store into read model ``name`` again (never moves an item backwards; idempotent)."""
    return READ_MODELS[name].rebuild(store, table, ids)
