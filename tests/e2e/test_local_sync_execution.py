"""StartSyncExecution on the emulated endpoint, as API Gateway calls it, from boto3 and from the AWS CLI line the
banner prints (botocore's `sync-` host prefix turned off)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import boto3
import pytest
from botocore.config import Config

pytestmark = pytest.mark.e2e


def test_boto3_runs_a_command_workflow_synchronously(runtime):
    sfn = boto3.client("stepfunctions", endpoint_url=runtime.aws_endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local",
                       config=Config(inject_host_prefix=False))
    arn = runtime.stack.state_machines["chronicle-command-CreateProject"]
    execution_input = {"commandType": "CreateProject", "actorId": "alice", "requestId": "sync-test-1",
                       "body": json.dumps({"data": {"name": "Sync", "ownerId": "alice"}})}
    answer = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps(execution_input))
    assert answer["status"] == "SUCCEEDED", answer
    assert json.loads(answer["output"])["aggregateType"] == "Project"
    refused = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({**execution_input, "body": "{}"}))
    assert (refused["status"], refused["error"]) == ("FAILED", "ValidationError")
    with pytest.raises(sfn.exceptions.ClientError):
        sfn.start_sync_execution(stateMachineArn=arn.replace("CreateProject", "NoSuchCommand"), input="{}")


def test_the_banners_start_sync_execution_line_works_as_printed(runtime, tmp_path):
    if shutil.which("aws") is None:
        pytest.skip("no aws CLI on this machine")
    line = runtime.sync_example().strip()
    assert line in runtime.banner()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MOTO_PORT"}
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true",
               PATH=os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")]))
    ran = subprocess.run(line, shell=True, env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["status"] == "SUCCEEDED", ran.stdout
