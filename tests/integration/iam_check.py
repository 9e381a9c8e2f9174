"""What a function's role in template.yaml allows, and the AWS requests Chronicle's code makes, in IAM's terms.

moto checks no IAM, so a request a role does not allow passes every test here and fails only in AWS (AccessDenied,
an "internal error" to the client). `Recorder` records the requests made through Chronicle's shared clients
(`chronicle.aws.client`) as (IAM action, resource) with resources named by logical id: `EventStoreTable`,
`ProjectReadModelTable/index/byOwner`, `ArchiveBucket/events/p-1/...`, `PersonalDataKey`, `EventBus`.
`ungranted(function, requests)` lists those the function's inline policies do not allow.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any

from chronicle import aws as chronicle_aws
from chronicle.local.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")

TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem"}
# S3 operations -> the IAM action that authorizes them, and whether the resource is an object (else the bucket)
S3_ACTIONS = {"GetObject": ("s3:GetObject", True), "HeadObject": ("s3:GetObject", True),
              "PutObject": ("s3:PutObject", True), "DeleteObject": ("s3:DeleteObject", True),
              "ListObjectsV2": ("s3:ListBucket", False), "ListObjects": ("s3:ListBucket", False),
              "ListObjectVersions": ("s3:ListBucketVersions", False)}


def function_of(code_dir: str) -> str:
    """The logical id of the function whose CodeUri is functions/<code_dir>/."""
    for name, resource in TEMPLATE["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function" and \
                resource["Properties"].get("CodeUri", "").rstrip("/") == f"functions/{code_dir}":
            return name
    raise KeyError(code_dir)


def _resource_name(resource: Any) -> str | None:
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        name = resource["Fn::GetAtt"]
        return name[0] if isinstance(name, list) else name.split(".")[0]
    if isinstance(resource, dict) and "Fn::Sub" in resource and isinstance(resource["Fn::Sub"], str):
        return resource["Fn::Sub"].replace("${", "").replace(".Arn}", "")
    return None  # a literal ARN or a policy template: not a resource of this stack the recorder names


def granted(function: str) -> set[tuple[str, str]]:
    """(action, resource pattern) pairs of the function's inline policy statements."""
    out = set()
    for policy in TEMPLATE["Resources"][function]["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            if statement.get("Effect", "Allow") != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            out |= {(action, name) for resource in resources if (name := _resource_name(resource))
                    for action in actions}
    return out


def ungranted(function: str, requests: set[tuple[str, str]]) -> list[tuple[str, str]]:
    allowed = granted(function)
    return sorted((action, resource) for action, resource in requests
                  if not any(action == a and fnmatch.fnmatchcase(resource, pattern) for a, pattern in allowed))


def logical_names() -> dict[str, str]:
    """Physical name in this test's account (table, bucket, bus, key id) -> logical id, through the Globals
    environment as in AWS."""
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    return {os.environ[var]: ref["Ref"] for var, ref in variables.items()
            if isinstance(ref, dict) and "Ref" in ref and var in os.environ}


class Recorder:
    """The requests made through Chronicle's shared DynamoDB, S3, EventBridge and KMS clients while it is open."""

    SERVICES = ("dynamodb", "s3", "events", "kms")

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []  # (action, physical resource)

    def _before(self, params, model, **_):
        service = model.service_model.service_name
        if service == "dynamodb":
            self._dynamodb(model.name, params)
        elif service == "s3":
            action, on_object = S3_ACTIONS[model.name]  # a KeyError: an operation this map must learn
            if model.name == "GetObject" and params.get("VersionId"):
                action = "s3:GetObjectVersion"
            self.seen.append((action, f"{params['Bucket']}/{params['Key']}" if on_object else params["Bucket"]))
        elif service == "events":
            assert model.name == "PutEvents", model.name
            self.seen.extend(("events:PutEvents", entry.get("EventBusName", "default")) for entry in params["Entries"])

    def _dynamodb(self, operation: str, params: dict) -> None:
        if operation == "TransactWriteItems":  # IAM authorizes each item by its own action
            for item in params["TransactItems"]:
                [(kind, request)] = item.items()
                self.seen.append((f"dynamodb:{TRANSACT_ACTIONS[kind]}", request["TableName"]))
            return
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
        index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
        self.seen.extend((f"dynamodb:{operation}", table + index) for table in tables)

    def _kms(self, parsed, model, **_):  # after the call: Decrypt names its key only in the answer
        if "KeyId" in parsed:
            self.seen.append((f"kms:{model.name}", parsed["KeyId"].rsplit("/", 1)[-1]))

    def __enter__(self) -> Recorder:
        for service in self.SERVICES:
            events = chronicle_aws.client(service).meta.events
            events.register(f"before-parameter-build.{service}", self._before, unique_id="iam-check")
        chronicle_aws.client("kms").meta.events.register("after-call.kms", self._kms, unique_id="iam-check-kms")
        return self

    def __exit__(self, *_) -> None:
        for service in self.SERVICES:
            chronicle_aws.client(service).meta.events.unregister(f"before-parameter-build.{service}",
                                                                 unique_id="iam-check")
        chronicle_aws.client("kms").meta.events.unregister("after-call.kms", unique_id="iam-check-kms")

    def requests(self) -> set[tuple[str, str]]:
        """(action, resource) with the resource's physical name replaced by its logical id."""
        names = logical_names()
        out = set()
        for action, resource in self.seen:
            head, sep, rest = resource.partition("/")
            if head not in names:
                raise AssertionError(f"{action} on {resource}: not a resource template.yaml gives the functions")
            out.add((action, names[head] + sep + rest))
        return out
