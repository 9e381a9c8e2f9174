"""The steps of the template and service workflows run in order in-process (as their ASL chains them)."""

from __future__ import annotations

import json

from chronicle import aws as chronicle_aws
from chronicle.commands import decide_and_append, follow_up, validate_request
from chronicle.facts import load_facts
from chronicle.template_bodies import store_body

WEB = {"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}}, "required": ["replicas"]}
WEB_BODY = "kind: Deployment\nspec:\n  replicas: ${{ parameters.replicas }}\n"


def command(command_type: str, body: dict, actor: str = "alice") -> dict:
    return validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": actor})


def append(cmd: dict) -> dict:
    return decide_and_append(cmd, chronicle_aws.event_store(), chronicle_aws.aggregate_loader())


def facts(cmd: dict) -> dict:
    return load_facts(cmd, chronicle_aws.aggregate_loader(), chronicle_aws.template_bodies())


def validate_after(cmd: dict, outcome: dict) -> dict:
    """template-change.asl.json's ValidateTemplate state: the follow-up command, its facts, its append."""
    return append(facts(follow_up(cmd, outcome, "ValidateTemplate")))


def upload(data: dict | None = None, **envelope) -> dict:
    cmd = store_body(command("UploadTemplate", {"data": data or {"name": "web", "body": WEB_BODY,
                                                                 "parameters": WEB}, **envelope}),
                     chronicle_aws.template_bodies())
    return validate_after(cmd, append(cmd))


def change_parameters(template_id: str, parameters: dict, validate: bool = True) -> dict:
    cmd = command("ChangeTemplateParameters", {"aggregateId": template_id, "data": {"parameters": parameters}})
    outcome = append(cmd)
    return validate_after(cmd, outcome) if validate else outcome


def create_project(name: str = "Shop") -> str:
    return append(command("CreateProject", {"data": {"name": name, "ownerId": "alice"}}))["response"]["aggregateId"]


def add_service(project_id: str, name: str, template_id: str, parameters: dict, depends_on=()) -> dict:
    return append(facts(command("AddService", {"aggregateId": project_id, "data": {
        "serviceName": name, "templateId": template_id, "parameters": parameters, "dependsOn": list(depends_on)}})))
