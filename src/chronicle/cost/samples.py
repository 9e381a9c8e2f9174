"""One sample request per command type, for measuring what it costs (chronicle.cost.model).

A sample is the request body of `POST /commands/<CommandType>`. Placeholders, replaced before each run:
- "{<AggregateType>}" (e.g. "{Project}"): the id of a stream of that type, made by running that aggregate's create
  command once (unmeasured) the first time it is needed;
- "{n}": a number unique to the run, so that repeated runs stay valid (new names, new keys).
`before` lists commands run (unmeasured, same "{n}") before each measured run, for a command that needs state
(RemoveService needs the service it removes); a create among them makes "{<AggregateType>}" name its new stream.
`actor` is the X-Actor-Id (placeholders too: a user acts as "{User}"). `extra_minimum` is what the command needs beyond the plain
workflow's minimum, in billing units (an S3 put for a template body, the reservation item for an email).

tests/unit/test_cost_units.py fails when a command has no sample or a sample does not validate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    body: dict[str, Any]
    before: tuple[str, ...] = ()
    actor: str = "cost-bench"
    extra_minimum: dict[str, float] = field(default_factory=dict)


TEMPLATE_BODY = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: ${{ parameters.name }}\n"
                 "spec:\n  replicas: ${{ parameters.replicas }}\n")
TEMPLATE_PARAMETERS = {"type": "object", "properties": {"name": {"type": "string"},
                                                        "replicas": {"type": "integer", "minimum": 1}},
                       "required": ["name"]}

COST_ADMIN = "cost-admin"  # started as a bootstrap admin (AdminActorIds) by chronicle.cost.model

SAMPLES: dict[str, Sample] = {
    "CreateProject": Sample({"data": {"name": "Cost sample {n}", "ownerId": "alice",
                                      "description": "A project created to measure what a command costs."}}),
    "ChangeProjectConfiguration": Sample({"aggregateId": "{Project}",
                                          "data": {"set": {"region": "eu-west-1", "tier-{n}": "gold"}}}),
    # The body goes to S3 (one PUT) and the workflow validates it in the same request (TemplateValidated).
    "UploadTemplate": Sample({"data": {"name": "web-service-{n}", "description": "A template to measure costs.",
                                       "body": TEMPLATE_BODY, "parameters": TEMPLATE_PARAMETERS}},
                             extra_minimum={"s3.class_a_requests": 1}),
    "ValidateTemplate": Sample({"aggregateId": "{Template}", "data": {}}, extra_minimum={"s3.class_b_requests": 1}),
    "ChangeTemplateParameters": Sample({"aggregateId": "{Template}", "data": {"parameters": {
        **TEMPLATE_PARAMETERS, "properties": {**TEMPLATE_PARAMETERS["properties"], "tier{n}": {"type": "string"}}}}},
        extra_minimum={"s3.class_b_requests": 1}),
    # The template's facts are read from its stream, and the append checks that stream did not move
    # (a ConditionCheck: the append is a transaction, 2 x (event + check) write units).
    "AddService": Sample({"aggregateId": "{Project}", "data": {"serviceName": "svc-{n}", "templateId": "{Template}",
                                                               "parameters": {"name": "svc", "replicas": 2}}},
                         extra_minimum={"dynamodb.wru": 3, "dynamodb.rru": 1}),
    # The email reservation rides in the append (a transaction: event + reservation + the per-user data key's item,
    # 2 write units each); KMS makes the data key and the email's keyed hash (2 requests).
    "RegisterUser": Sample({"data": {"email": "user{n}@example.com", "displayName": "User {n}"}},
                           actor="cost-user-{n}", extra_minimum={"dynamodb.wru": 5, "kms.requests": 2}),
    # A name change: the user's data key is already in the process's cache (bounded, short TTL), no KMS request.
    "UpdateUserProfile": Sample({"aggregateId": "{User}", "data": {"displayName": "Renamed {n}"}}, actor="{User}"),
    "ChangeUserPermissions": Sample({"aggregateId": "{User}",
                                     "data": {"grant": [{"resource": "project:p-{n}", "permission": "write"}]}},
                                    actor=COST_ADMIN),
    "EraseUserPersonalData": Sample({"aggregateId": "{User}", "data": {}}, before=("RegisterUser",), actor="{User}",
                                    extra_minimum={"dynamodb.wru": 4, "kms.requests": 1}),
    "RemoveService": Sample({"aggregateId": "{Project}", "data": {"serviceName": "svc-{n}"}}, before=("AddService",)),
}


def fill(value: Any, ids: dict[str, str], n: int) -> Any:
    """`value` with its placeholders replaced."""
    if isinstance(value, str):
        value = value.replace("{n}", str(n))
        for aggregate_type, aggregate_id in ids.items():
            value = value.replace("{" + aggregate_type + "}", aggregate_id)
        return value
    if isinstance(value, list):
        return [fill(v, ids, n) for v in value]
    if isinstance(value, dict):
        return {fill(k, ids, n): fill(v, ids, n) for k, v in value.items()}
    return value


def placeholders(value: Any) -> set[str]:
    """The aggregate types a sample refers to."""
    return set(re.findall(r"\{([A-Z][A-Za-z]*)\}", json.dumps(value)))
