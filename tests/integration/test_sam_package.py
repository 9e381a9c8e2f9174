"""`sam package` uploads every local artifact of template.yaml (code, layer, ASL, the OpenAPI include, the GraphQL
schema), so `sam deploy` sends CloudFormation a template with no local path left (S3 is moto's server here); and
after the SAM transform (samtranslator, as CloudFormation runs it) the roles are least privilege."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from chronicle.local.stack import _CfnLoader, expand_for_each

ROOT = Path(__file__).resolve().parents[2]
SAM = Path(sys.executable).parent / "sam"



def _local_paths(node, found, where=""):
    keys = ("CodeUri", "ContentUri", "DefinitionUri", "Location", "DefinitionS3Location")
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and isinstance(value, str) and not value.startswith("s3://"):
                found.append(f"{where}.{key}={value}")
            _local_paths(value, found, f"{where}.{key}")
    elif isinstance(node, list):
        for item in node:
            _local_paths(item, found, where)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    """`sam package` of template.yaml, with S3 on moto's server: the template `sam deploy` sends CloudFormation."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1", SAM_CLI_TELEMETRY="0")
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket="artifacts")
        out = tmp_path_factory.mktemp("package") / "packaged.yaml"
        result = subprocess.run(
            [str(SAM), "package", "--template-file", "template.yaml", "--s3-bucket", "artifacts",
             "--output-template-file", str(out)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return yaml.load(out.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    finally:
        server.stop()


def test_sam_package_leaves_no_local_path(packaged):
    left = []
    _local_paths(packaged["Resources"], left)
    # DefinitionUri of a state machine is inlined as Bucket/Key; anything still a plain string is a local path.
    assert left == []
    include = packaged["Resources"]["CommandApi"]["Properties"]["DefinitionBody"]["Fn::Transform"]
    assert include["Parameters"]["Location"].startswith("s3://artifacts/")
    # The command state machines stay one Fn::ForEach loop (CloudFormation expands it) on uploaded definitions.
    loops = [key for key in packaged["Resources"] if key.startswith("Fn::ForEach::")]
    assert loops and not [r for r in expand_for_each(packaged["Resources"]).values()
                          if r["Type"] == "AWS::Serverless::StateMachine"
                          and isinstance(r["Properties"]["DefinitionUri"], str)]


# ---- what CloudFormation gets after the SAM transform: least privilege, checked on the roles themselves ---------
MANAGED_POLICIES = {name: f"arn:aws:iam::aws:policy/{path}" for name, path in {
    "AWSLambdaBasicExecutionRole": "service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "AWSXrayWriteOnlyAccess",
    "AWSLambdaSQSQueueExecutionRole": "service-role/AWSLambdaSQSQueueExecutionRole",
    "AWSLambdaRole": "service-role/AWSLambdaRole",
}.items()}
ALLOWED_MANAGED = {"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSAppSyncPushToCloudWatchLogs"}


class _PolicyLoader:
    def load(self):
        return MANAGED_POLICIES


@pytest.fixture(scope="module")
def deployed(packaged, monkeypatch_module):
    from samtranslator.translator.transform import transform

    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = copy.deepcopy(packaged)
    # what CloudFormation's AWS::LanguageExtensions transform does first: expand Fn::ForEach
    template["Resources"] = expand_for_each(template["Resources"])
    template["Transform"] = "AWS::Serverless-2016-10-31"
    # what CloudFormation's AWS::Include does before the SAM transform runs
    template["Resources"]["CommandApi"]["Properties"]["DefinitionBody"] = yaml.load(
        (ROOT / "api" / "openapi.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    return transform(template, {}, _PolicyLoader())["Resources"]


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _statements(deployed):
    """(resource name, statement) of every role's inline policies and of this stack's own managed policies."""
    for name, resource in deployed.items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield name, statement
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                yield name, statement


def _role_actions(deployed, role: str) -> set[str]:
    """Every action a role of this stack is allowed, its own managed policies included."""
    properties = deployed[role]["Properties"]
    documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
    documents += [deployed[arn["Ref"]]["Properties"]["PolicyDocument"]
                  for arn in properties.get("ManagedPolicyArns", []) if isinstance(arn, dict) and "Ref" in arn]
    return {action for document in documents for statement in document["Statement"]
            if statement.get("Effect") == "Allow" for action in _as_list(statement["Action"])}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_roles_use_no_broad_managed_policy(deployed):
    for name, resource in deployed.items():
        if resource["Type"] == "AWS::IAM::Role":
            for arn in resource["Properties"].get("ManagedPolicyArns", []):
                if isinstance(arn, dict) and deployed.get(arn.get("Ref"), {}).get("Type") == "AWS::IAM::ManagedPolicy":
                    continue  # this stack's own, checked statement by statement like inline ones
                text = arn if isinstance(arn, str) else json.dumps(arn)
                assert any(text.endswith(allowed) or text.endswith(allowed + '"]}') or allowed in text
                           for allowed in ALLOWED_MANAGED), f"{name}: {text}"


def test_no_data_plane_action_on_every_resource(deployed):
    for name, statement in _statements(deployed):
        if "*" in _as_list(statement.get("Resource")):
            actions = _as_list(statement["Action"])
            assert not [a for a in actions if a.split(":")[0] in ("dynamodb", "sqs", "events", "lambda", "states",
                                                                    "appsync", "s3")], (name, statement)


def test_events_can_only_be_appended_and_only_the_archive_deletes(deployed):
    event_table = {"Fn::GetAtt": ["EventStoreTable", "Arn"]}
    writers, deleters = set(), set()
    for name, statement in _statements(deployed):
        resources = _as_list(statement.get("Resource"))
        if event_table in resources or any("EventStoreTable" in json.dumps(r) for r in resources):
            actions = set(_as_list(statement["Action"]))
            assert not actions & {"dynamodb:UpdateItem", "dynamodb:BatchWriteItem",
                                  "dynamodb:*", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"}, name
            if actions & {"dynamodb:PutItem"}:
                writers.add(name)
            if actions & {"dynamodb:DeleteItem"}:
                deleters.add(name)
    assert writers == {"AppendEventsFunctionRole"}
    assert deleters == {"ArchiveEventsFunctionRole"}  # archived items only (conditional deletes)


LOG_DELIVERY = {"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups"}


def test_every_logging_state_machine_may_deliver_its_logs(deployed):
    """Step Functions refuses to create a state machine with a CloudWatch Logs destination whose role lacks the log
    delivery actions (AccessDeniedException "... not authorized to access the Log Destination": `sam deploy` fails
    and rolls back); SAM adds none of them."""
    logging = {name: resource for name, resource in deployed.items()
               if resource["Type"] == "AWS::StepFunctions::StateMachine"
               and resource["Properties"].get("LoggingConfiguration", {}).get("Destinations")}
    assert len(logging) == 12  # eleven commands and the archive workflow
    for name, machine in logging.items():
        role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        assert _role_actions(deployed, role) >= LOG_DELIVERY, name
