"""`sam package` uploads every local artifact of template.yaml (code, layer, ASL, the OpenAPI include, the GraphQL
schema), so `sam deploy` sends CloudFormation a template with no local path left. S3 is moto's server here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import yaml
from moto.server import ThreadedMotoServer

from chronicle.local.stack import _CfnLoader

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


def test_sam_package_leaves_no_local_path(tmp_path):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1", SAM_CLI_TELEMETRY="0")
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket="artifacts")
        packaged = tmp_path / "packaged.yaml"
        result = subprocess.run(
            [str(SAM), "package", "--template-file", "template.yaml", "--s3-bucket", "artifacts",
             "--output-template-file", str(packaged)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        template = yaml.load(packaged.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    finally:
        server.stop()
    left = []
    _local_paths(template["Resources"], left)
    # DefinitionUri of a state machine is inlined as Bucket/Key; anything still a plain string is a local path.
    assert left == []
    include = template["Resources"]["CommandApi"]["Properties"]["DefinitionBody"]["Fn::Transform"]
    assert include["Parameters"]["Location"].startswith("s3://artifacts/")
