"""`chronicle projections rebuild` against the local runtime's AWS endpoint, as docs/operations.md shows it."""

from __future__ import annotations

import boto3
import pytest
from local_helpers import graphql, http, settle

from chronicle.cli import main

pytestmark = pytest.mark.e2e


def test_a_lost_read_model_item_comes_back(runtime, capsys):
    status, body = http("POST", f"{runtime.url}/commands/CreateProject", {"data": {"name": "Lost", "ownerId": "o"}})
    assert status == 200, body
    project_id = body["aggregateId"]
    settle(runtime)  # else the stream safety net's copy of the event may put the item back after the delete
    tables = runtime.stack.tables
    dynamodb = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")
    dynamodb.delete_item(TableName=tables["ProjectReadModelTable"], Key={"id": {"S": project_id}})
    query = "query Q($id: ID!) { project(id: $id) { name version } }"
    assert graphql(runtime.url, query, id=project_id)["project"] is None

    code = main(["projections", "rebuild", "--endpoint-url", runtime.aws_endpoint, "--region", "us-east-1",
                 "--event-table", tables["EventStoreTable"], "--read-model-table", tables["ProjectReadModelTable"],
                 "--id", project_id])
    assert code == 0, capsys.readouterr()
    assert graphql(runtime.url, query, id=project_id)["project"] == {"name": "Lost", "version": 1}


def test_the_banner_commands_work_as_printed_without_any_aws_configuration(runtime, tmp_path):
    """A new user's machine: no ~/.aws, no AWS_* variables. The banner's aws and rebuild lines run as printed."""
    import os
    import shlex
    import subprocess
    import sys

    from pathlib import Path

    from local_helpers import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MOTO_PORT"}
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true",
               PATH=os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")]),
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]))
    aws_line, rebuild_line = (line.strip() for line in runtime.aws_examples())
    assert aws_line in runtime.banner() and rebuild_line in runtime.banner()
    if (ROOT / ".venv" / "bin" / "python").exists() and Path(sys.executable).parent == ROOT / ".venv" / "bin":
        assert aws_line.startswith(".venv/bin/python ") and rebuild_line.startswith(".venv/bin/chronicle ")
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != os.path.dirname(sys.executable))
    rebuild = subprocess.run(shlex.split(rebuild_line), cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=120)
    assert rebuild.returncode == 0 and "rebuilt" in rebuild.stdout, rebuild.stderr
    listed = subprocess.run(aws_line, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "chronicle-EventStoreTable" in listed.stdout, listed.stderr


def test_rebuild_by_read_model_name_needs_no_table_names_locally(runtime, capsys):
    """Locally the table names are fixed: --endpoint-url is enough, for one read model or all of them, and the
    archive is read through (no note that archived streams are not seen)."""
    from chronicle.cli import main

    assert main(["projections", "rebuild", "--endpoint-url", runtime.aws_endpoint, "--read-model", "templates"]) == 0
    out = capsys.readouterr()
    summaries = [line for line in out.out.splitlines() if line.startswith("rebuilt ")]
    assert len(summaries) == 1 and "template(s)" in summaries[0] and "not seen" not in out.err, out
    assert main(["projections", "rebuild", "--endpoint-url", runtime.aws_endpoint]) == 0
    assert len([line for line in capsys.readouterr().out.splitlines() if line.startswith("rebuilt ")]) == 4
