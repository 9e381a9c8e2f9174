"""The Template aggregate (docs/reference/commands.md): a YAML text body with `${{ parameters.<name> }}` placeholders and the
JSON Schema (Draft 2020-12, type object) of the parameters a service must supply.

The body itself is never in an event: the UploadTemplate workflow stores it in S3 first (content-addressed,
`templates/<sha256>`) and the command reaching decide() carries bodyKey/bodySha256/bodySize instead. Validation is
a pure function of the body and the parameter schema (`validate_template`); the workflow step that reads the body
from S3 passes its result to decide() as facts (chronicle.facts), so decide() stays pure.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from chronicle import safe_patterns
from chronicle.domain import Aggregate, NewEvent, State
from chronicle.policy import ANYONE, Need

PLACEHOLDER = re.compile(r"\$\{\{\s*parameters\.([^\s}]+)\s*\}\}")


def initial_state() -> State:
    return {"exists": False, "version": 0, "name": None, "description": None, "bodyKey": None, "bodySha256": None,
            "bodySize": None, "parameters": None, "parametersVersion": 0, "validation": None, "uploadedBy": None,
            "createdAt": None, "updatedAt": None}


def is_usable(state: State) -> bool:
    """documented rule TemplateValidated: the latest validation passed and the parameters have not changed since."""
    validation = state.get("validation")
    return bool(validation and validation["valid"] and validation["atVersion"] > state["parametersVersion"])


def validate_template(body: str, parameters: Any) -> list[dict[str, str]]:
    """Every problem of a template as {path, message}; empty when it is valid (docs/reference/commands.md, ValidateTemplate)."""
    errors: list[dict[str, str]] = []
    try:
        yaml.safe_load(body)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        errors.append({"path": "$.body", "message": f"not valid YAML{where}: {problem}"})
    except RecursionError:  # a body of thousands of nested brackets: refuse it as invalid, not as a crash
        errors.append({"path": "$.body", "message": "not valid YAML: nested too deeply"})
    properties: dict[str, Any] = {}
    if not isinstance(parameters, dict):
        errors.append({"path": "$.parameters", "message": "the parameter schema must be a JSON object"})
    else:
        try:
            Draft202012Validator.check_schema(parameters)
        except SchemaError as error:
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            errors.append({"path": f"$.parameters{path}", "message": f"not a valid Draft 2020-12 schema: "
                                                                     f"{error.message}"})
        else:
            errors += _unresolvable_refs(parameters) + safe_patterns.problems(parameters)
        if parameters.get("type") != "object":
            errors.append({"path": "$.parameters.type", "message": "the parameter schema must have type object"})
        if isinstance(parameters.get("properties"), dict):
            properties = parameters["properties"]
    for name in sorted(set(PLACEHOLDER.findall(body))):
        if name not in properties:
            errors.append({"path": "$.body", "message": f"placeholder parameters.{name} names no property of the "
                                                        "parameter schema"})
    return sorted(errors, key=lambda e: (e["path"], e["message"]))


def _unresolvable_refs(schema: dict[str, Any]) -> list[dict[str, str]]:
    """Every $ref the schema cannot resolve by itself: nothing is fetched from the network, so a remote or dangling
    reference would fail every service later; it is a validation error of the template now."""
    base = "urn:chronicle:template-parameters"
    resolver = Registry().with_resource(base, DRAFT202012.create_resource(schema)).resolver(base_uri=base)
    found: list[dict[str, str]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                    try:
                        resolver.lookup(value)
                    except Unresolvable:
                        found.append({"path": f"{path}.{key}", "message": f"{value!r} cannot be resolved within the "
                                                                          "parameter schema (remote references are "
                                                                          "not fetched)"})
                else:
                    walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")

    walk(schema, "$.parameters")
    return found


def decide(command_type: str, data: dict[str, Any], state: State, facts: dict[str, Any] | None = None
           ) -> list[NewEvent]:
    if command_type == "UploadTemplate":
        if "bodyKey" not in data:  # the workflow's StoreTemplateBody step replaces the body: a wiring bug
            raise ValueError("UploadTemplate reached decide() with its body not stored")
        uploaded = {"name": data["name"], "bodyKey": data["bodyKey"], "bodySha256": data["bodySha256"],
                    "bodySize": data["bodySize"], "parameters": data["parameters"]}
        if data.get("description") is not None:
            uploaded["description"] = data["description"]
        return [("TemplateUploaded", uploaded)]

    if command_type == "ChangeTemplateParameters":
        return [("TemplateParametersChanged", {"parameters": data["parameters"]})]

    if command_type == "ValidateTemplate":
        if not facts or "validation" not in facts:  # LoadFacts did not run: a wiring bug
            raise ValueError("ValidateTemplate needs the validation facts of its LoadFacts step")
        result = facts["validation"]
        return [("TemplateValidated", {"valid": result["valid"], "errors": result["errors"]})]

    raise ValueError(f"Template does not handle {command_type}")  # routing bug, not user input


def evolve(state: State, event: dict[str, Any]) -> State:
    data = event["eventData"]
    kind = event["eventType"]
    sequence = event["eventSequence"]
    state = {**state, "version": sequence, "updatedAt": event["timestamp"]}
    if kind == "TemplateUploaded":
        state.update(exists=True, name=data["name"], description=data.get("description"), bodyKey=data["bodyKey"],
                     bodySha256=data["bodySha256"], bodySize=data["bodySize"], parameters=data["parameters"],
                     parametersVersion=sequence, uploadedBy=(event.get("metadata") or {}).get("actorId"),
                     createdAt=event["timestamp"])
    elif kind == "TemplateParametersChanged":
        state.update(parameters=data["parameters"], parametersVersion=sequence)
    elif kind == "TemplateValidated":
        state["validation"] = {"valid": data["valid"], "errors": data["errors"], "atVersion": sequence}
    return state


def authorize(command_type: str, data: dict[str, Any], state: State, template_id: str, actor_id: str) -> Need:
    """docs/reference/authorization.md: anyone may upload a template; its uploader and `write` holders may change (and validate) it.
    Using a template (AddService) needs nothing on it: any validated template may be used."""
    if command_type == "UploadTemplate":
        return ANYONE
    return Need((("write", f"template:{template_id}"),), frozenset({state["uploadedBy"]} if state.get("uploadedBy")
                                                                   else ()))


AGGREGATE = Aggregate(
    type="Template",
    create_commands=frozenset({"UploadTemplate"}),
    update_commands=frozenset({"ValidateTemplate", "ChangeTemplateParameters"}),
    initial_state=initial_state,
    decide=decide,
    evolve=evolve,
    state_version=1,
    snapshot_every=50,
    event_types=frozenset({"TemplateUploaded", "TemplateValidated", "TemplateParametersChanged"}),
    authorize=authorize,
)
