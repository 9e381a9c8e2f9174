"""The LoadFacts step: what a command's decider needs from outside its own stream, loaded before deciding.

Deciders are pure, so a rule that needs another aggregate's facts (AddService needs the template) or data kept
elsewhere (ValidateTemplate needs the body in S3) gets them from this step of its workflow, as `command["facts"]`:

- AddService: the Template aggregate folded from the event store (never a read model, which may lag), and a
  `checks` entry: the append is conditional on the template stream still being at that version (a ConditionCheck
  in the same TransactWriteItems, chronicle.eventstore.store). If it moved, the append raises StreamContention and
  the workflow runs LoadFacts again before re-deciding.
- ValidateTemplate: the validation result of the template's body and parameter schema as of `atVersion`; the
  append refuses facts about another version (StreamContention, re-loaded the same way).

See docs/architecture.md ("Commands with facts").
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

from chronicle.domain import AGGREGATES
from chronicle.domain.template import validate_template
from chronicle.errors import AggregateNotFound
from chronicle.eventstore.snapshots import AggregateLoader
from chronicle.template_bodies import TemplateBodies


def template_facts(command: dict[str, Any], loader: AggregateLoader, bodies: TemplateBodies | None) -> dict:
    template_id = command["data"]["templateId"]
    loaded = loader.load(AGGREGATES["Template"], template_id)
    state = loaded.state
    template = {"id": template_id, "exists": bool(state["exists"]), "version": loaded.version,
                "parameters": state["parameters"], "parametersVersion": state["parametersVersion"],
                "validation": state["validation"]}
    checks = [{"aggregateId": template_id, "version": loaded.version}] if state["exists"] else []
    return {"template": template, "checks": checks}


def validation_facts(command: dict[str, Any], loader: AggregateLoader, bodies: TemplateBodies | None) -> dict:
    template_id = command["aggregateId"]
    loaded = loader.load(AGGREGATES["Template"], template_id)
    state = loaded.state
    if not state["exists"]:
        raise AggregateNotFound(f"There is no Template {template_id!r}.",
                                [{"aggregateId": template_id, "aggregateType": "Template"}])
    if bodies is None:
        raise RuntimeError("ValidateTemplate needs the template bucket (TEMPLATE_BUCKET)")
    errors = validate_template(bodies.get(state["bodyKey"], state["bodySha256"]), state["parameters"])
    return {"atVersion": loaded.version, "validation": {"valid": not errors, "errors": errors}}


FACT_LOADERS: dict[str, Callable[[dict[str, Any], AggregateLoader, TemplateBodies | None], dict[str, Any]]] = {
    "AddService": template_facts,
    "ValidateTemplate": validation_facts,
}


def load_facts(command: dict[str, Any], loader: AggregateLoader, bodies: TemplateBodies | None) -> dict[str, Any]:
    """The command with its facts; a command type without a loader is a wiring bug (its workflow is wrong)."""
    try:
        facts_of = FACT_LOADERS[command["commandType"]]
    except KeyError:
        raise ValueError(f"{command['commandType']} has no facts to load") from None
    return {**command, "facts": facts_of(command, loader, bodies)}
