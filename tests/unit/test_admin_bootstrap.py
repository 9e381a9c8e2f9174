"""The custom resource that reads the invited admin's sub (template.yaml AdminUserSubFunction, inline code), run
against a stubbed Cognito and a recording cfnresponse, as Lambda's inline runtime would run it."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from chronicle.local.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
SUB = "3f8a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def bootstrap(monkeypatch):
    sent: list[dict] = []
    cfnresponse = types.ModuleType("cfnresponse")
    cfnresponse.SUCCESS, cfnresponse.FAILED = "SUCCESS", "FAILED"

    def send(event, context, status, data, physical_id=None, no_echo=False, reason=None):
        sent.append({"status": status, "data": data, "physical_id": physical_id, "reason": reason})

    cfnresponse.send = send
    monkeypatch.setitem(sys.modules, "cfnresponse", cfnresponse)
    cognito = boto3.client("cognito-idp", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(boto3, "client", lambda service, *a, **k: cognito)
    code = load_template(ROOT / "template.yaml")["Resources"]["AdminUserSubFunction"]["Properties"]["Code"]["ZipFile"]
    namespace: dict = {}
    exec(compile(code, "index.py", "exec"), namespace)  # noqa: S102 - the template's own inline handler
    return namespace["handler"], cognito, sent


def _event(kind):
    return {"RequestType": kind, "PhysicalResourceId": SUB,
            "ResourceProperties": {"UserPoolId": "us-east-1_abc", "Username": "admin@example.com"}}


def test_create_reads_the_sub_of_the_invited_user(bootstrap):
    handler, cognito, sent = bootstrap
    with Stubber(cognito) as stub:
        stub.add_response("admin_get_user", {"Username": SUB, "UserAttributes": [
            {"Name": "email", "Value": "admin@example.com"}, {"Name": "sub", "Value": SUB}]},
            {"UserPoolId": "us-east-1_abc", "Username": "admin@example.com"})
        handler(_event("Create"), None)
    assert sent == [{"status": "SUCCESS", "data": {"Sub": SUB}, "physical_id": SUB, "reason": None}]


def test_a_failed_lookup_fails_the_deployment_and_delete_does_nothing(bootstrap):
    handler, cognito, sent = bootstrap
    with Stubber(cognito) as stub:
        stub.add_client_error("admin_get_user", "UserNotFoundException", "User does not exist.")
        handler(_event("Update"), None)
        handler(_event("Delete"), None)  # no call to Cognito
    assert sent[0]["status"] == "FAILED" and "UserNotFoundException" in sent[0]["reason"]
    assert sent[1] == {"status": "SUCCESS", "data": {}, "physical_id": SUB, "reason": None}
