"""The Project aggregate (docs/reference/commands.md): a team's project, composed of services.

State is plain JSON-ready data so that it can be snapshotted as is.
"""

from __future__ import annotations

import json
from typing import Any

from referencing.exceptions import Unresolvable

from chronicle import safe_patterns
from chronicle.domain import Aggregate, NewEvent, State
from chronicle.domain.template import is_usable
from chronicle.errors import BusinessRuleViolation
from chronicle.policy import ANYONE, Need


# What a project's configuration may hold, as compact UTF-8 JSON (how the read model and snapshots store it). With
# the longest name and description it keeps the project read-model item and the snapshot item well under DynamoDB's
# 400 KB (tests/unit/test_project_limits.py folds the largest legal project and measures both items).
MAX_CONFIGURATION_BYTES = 128 * 1024


def configuration_size(configuration: dict[str, Any]) -> int:
    return len(json.dumps(configuration, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode())


def initial_state() -> State:
    return {"exists": False, "version": 0, "name": None, "description": None, "ownerId": None,
            "visibility": "private", "services": {}, "configuration": {}, "createdAt": None, "updatedAt": None,
            "createdBy": None}


def decide(command_type: str, data: dict[str, Any], state: State, facts: dict[str, Any] | None = None
           ) -> list[NewEvent]:
    if command_type == "CreateProject":
        created = {"name": data["name"], "ownerId": data["ownerId"],
                   "visibility": data.get("visibility", "private")}
        if data.get("description") is not None:
            created["description"] = data["description"]
        return [("ProjectCreated", created)]

    if command_type == "ChangeProjectConfiguration":
        to_set = data.get("set", {})
        to_unset = sorted(set(data.get("unset", [])))
        if not to_set and not to_unset:
            raise BusinessRuleViolation("A configuration change must set or unset at least one key.",
                                        [{"rule": "ConfigurationChangeNotEmpty", "path": "$.data"}])
        both = sorted(set(to_set) & set(to_unset))
        if both:
            raise BusinessRuleViolation("A key cannot be set and unset in the same change.",
                                        [{"rule": "ConfigurationKeysDisjoint", "keys": both}])
        after = {key: value for key, value in {**state["configuration"], **to_set}.items() if key not in to_unset}
        size = configuration_size(after)
        if size > MAX_CONFIGURATION_BYTES:
            raise BusinessRuleViolation(
                f"The configuration would be {size} bytes; a project's configuration holds at most "
                f"{MAX_CONFIGURATION_BYTES} bytes (as compact JSON).",
                [{"rule": "ConfigurationTooLarge", "bytes": size, "limit": MAX_CONFIGURATION_BYTES}])
        return [("ProjectConfigurationChanged", {"set": to_set, "unset": to_unset})]

    if command_type == "AddService":
        if not facts or "template" not in facts:  # LoadFacts did not run: a wiring bug, not user input
            raise ValueError("AddService needs the template facts of its LoadFacts step")
        return _add_service(data, state, facts["template"])

    if command_type == "RemoveService":
        name = data["serviceName"]
        if name not in state["services"]:
            raise BusinessRuleViolation(f"The project has no service {name!r}.",
                                        [{"rule": "ServiceExists", "path": "$.data.serviceName", "serviceName": name}])
        dependents = sorted(other for other, service in state["services"].items() if name in service["dependsOn"])
        if dependents:
            raise BusinessRuleViolation(f"Services {dependents} depend on {name!r}: remove them first.",
                                        [{"rule": "NoDependents", "serviceName": name, "dependents": dependents}])
        return [("ServiceRemoved", {"serviceName": name})]

    raise ValueError(f"Project does not handle {command_type}")  # routing bug, not user input


def _add_service(data: dict[str, Any], state: State, template: dict[str, Any]) -> list[NewEvent]:
    """Every documented rule of AddService that fails, each a detail naming its rule; the template facts come from the
    Template stream (chronicle.facts.template_facts), read at `template["version"]`."""
    name, template_id = data["serviceName"], data["templateId"]
    parameters, depends_on = data.get("parameters", {}), data.get("dependsOn", [])
    broken: list[dict[str, Any]] = []
    if name in state["services"]:
        broken.append({"rule": "ServiceNameUnique", "path": "$.data.serviceName", "serviceName": name})
    if not template.get("exists"):
        broken.append({"rule": "TemplateExists", "path": "$.data.templateId", "templateId": template_id})
    elif not is_usable(template):
        validation = template.get("validation")
        why = ("it was never validated" if validation is None else
               "its latest validation failed" if not validation["valid"] else
               "its parameters changed after its latest validation")
        broken.append({"rule": "TemplateValidated", "path": "$.data.templateId", "templateId": template_id,
                       "message": f"the template cannot be used: {why}"})
    elif unsafe := safe_patterns.problems(template["parameters"]):  # a template validated before the check
        broken += [{"rule": "ParametersMatchTemplate", "path": "$.data.parameters",
                    "message": f"the template's parameter schema cannot be applied: {u['path']}: {u['message']}"}
                   for u in unsafe]
    else:
        validator = safe_patterns.SafeValidator(template["parameters"])  # ECMA `$`, a time budget per match
        try:
            errors = sorted(validator.iter_errors(parameters), key=lambda e: list(map(str, e.absolute_path)))
        except Unresolvable as error:  # validation refuses such schemas; this guards templates validated before
            broken.append({"rule": "ParametersMatchTemplate", "path": "$.data.parameters",
                           "message": f"the template's parameter schema cannot be applied: {error}"})
            errors = []
        for error in errors:
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            broken.append({"rule": "ParametersMatchTemplate", "path": f"$.data.parameters{path}",
                           "message": error.message})
    missing = [d for d in depends_on if d not in state["services"]]
    if missing:
        broken.append({"rule": "DependenciesExist", "path": "$.data.dependsOn", "missing": missing})
    if broken:
        rules = sorted({b["rule"] for b in broken})
        raise BusinessRuleViolation(f"AddService breaks {', '.join(rules)}.", broken)
    return [("ServiceAdded", {"serviceName": name, "templateId": template_id, "templateVersion": template["version"],
                              "parameters": parameters, "dependsOn": depends_on})]


def evolve(state: State, event: dict[str, Any]) -> State:
    data = event["eventData"]
    kind = event["eventType"]
    state = {**state, "version": event["eventSequence"], "updatedAt": event["timestamp"]}
    if kind == "ProjectCreated":
        state.update(exists=True, name=data["name"], description=data.get("description"),
                     ownerId=data["ownerId"], visibility=data["visibility"], createdAt=event["timestamp"],
                     createdBy=event.get("metadata", {}).get("actorId"))
    elif kind == "ProjectConfigurationChanged":
        configuration = {**state["configuration"], **data["set"]}
        for key in data["unset"]:
            configuration.pop(key, None)
        state["configuration"] = configuration
    elif kind == "ServiceAdded":
        state["services"] = {**state["services"], data["serviceName"]: {
            "templateId": data["templateId"], "templateVersion": data.get("templateVersion"),
            "parameters": data.get("parameters", {}),
            "dependsOn": data.get("dependsOn", [])}}
    elif kind == "ServiceRemoved":
        state["services"] = {k: v for k, v in state["services"].items() if k != data["serviceName"]}
    return state


def changers(state: State) -> frozenset[str]:
    """The actors who may change a project whatever their grants: its creator and its owner."""
    return frozenset(a for a in (state.get("createdBy"), state.get("ownerId")) if a)


def authorize(command_type: str, data: dict[str, Any], state: State, project_id: str, actor_id: str) -> Need:
    """docs/reference/authorization.md: anyone may create a project; its creator, its owner and `write` holders may change it."""
    if command_type == "CreateProject":
        return ANYONE
    return Need((("write", f"project:{project_id}"),), changers(state))


AGGREGATE = Aggregate(
    type="Project",
    create_commands=frozenset({"CreateProject"}),
    update_commands=frozenset({"ChangeProjectConfiguration", "AddService", "RemoveService"}),
    initial_state=initial_state,
    decide=decide,
    evolve=evolve,
    state_version=3,  # 2: services keep their templateVersion; 3: createdBy
    snapshot_every=50,
    event_types=frozenset({"ProjectCreated", "ProjectConfigurationChanged", "ServiceAdded", "ServiceRemoved"}),
    authorize=authorize,
)
