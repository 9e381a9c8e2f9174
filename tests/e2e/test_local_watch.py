"""`chronicle local --watch`: an edit takes effect for the next command with no restart and no lost state; an edit
that cannot load is reported and the previous version keeps serving (chronicle.local.watch)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from local_helpers import ROOT, graphql, http, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project's watched parts (the chronicle package itself still comes from src/)."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("functions", "schemas", "statemachine", "api"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "template.yaml", copy / "template.yaml")
    return copy


def create(url: str, name: str) -> tuple[int, dict]:
    body = {"aggregateId": f"project-w-{uuid.uuid4().hex[:8]}", "data": {"name": name, "ownerId": "alice"}}
    return http("POST", f"{url}/commands/CreateProject", body, {"X-Actor-Id": "alice"})


def edit_schema(project: Path, max_length: int) -> None:
    path = project / "schemas" / "commands" / "CreateProject.json"
    schema = json.loads(path.read_text())
    schema["properties"]["name"]["maxLength"] = max_length
    path.write_text(json.dumps(schema, indent=2))


def test_a_tightened_command_schema_takes_effect_without_a_restart(tmp_path, project, cli_runtime):
    rt = cli_runtime(tmp_path / "state", extra=["--project-dir", str(project)])  # watching is the default
    status, first = create(rt.url, "a long project name")
    assert status == 200, first

    edit_schema(project, 5)
    assert wait_for(lambda: create(rt.url, "a long project name")[0] == 400, timeout=30), "".join(rt.output)
    status, refused = create(rt.url, "a long project name")
    assert refused["error"] == "ValidationError" and "too long" in json.dumps(refused), refused
    assert create(rt.url, "short")[0] == 200
    # state survived the reload: the first project is still there
    assert graphql(rt.url, "query($id: ID!) { project(id: $id) { name } }", id=first["aggregateId"])["project"]
    assert "[watch] reloaded (schemas/commands/CreateProject.json)" in "".join(rt.output)
    rt.stop()


def test_a_broken_schema_or_handler_is_reported_and_the_old_one_serves(tmp_path, project, cli_runtime):
    rt = cli_runtime(tmp_path / "state", extra=["--watch", "--project-dir", str(project)])
    handler = project / "functions" / "validate_command" / "app.py"
    original = handler.read_text()

    handler.write_text(original + "\ndef broken(:\n")
    assert wait_for(lambda: "NOT reloaded" in "".join(rt.output), timeout=30), "".join(rt.output)
    assert "app.py:" in "".join(rt.output) and "SyntaxError" in "".join(rt.output)
    assert create(rt.url, "still served")[0] == 200

    schema = project / "schemas" / "commands" / "CreateProject.json"
    schema.write_text(schema.read_text().replace('"additionalProperties": false', '"type": 3'))
    assert wait_for(lambda: "".join(rt.output).count("NOT reloaded") >= 2, timeout=30), "".join(rt.output)
    assert "schemas check failed" in "".join(rt.output)
    assert create(rt.url, "still served")[0] == 200

    # Fixed: the handler edit takes effect (this one refuses one name), the schema is back to what was released.
    shutil.copy(ROOT / "schemas" / "commands" / "CreateProject.json", schema)
    handler.write_text(original.replace("    command = validate_request(event)\n",
                                        "    if '\"forbidden\"' in str(event.get('body')):\n"
                                        "        raise ValueError('edited handler')\n"
                                        "    command = validate_request(event)\n"))
    assert wait_for(lambda: create(rt.url, "forbidden")[0] != 200, timeout=30), "".join(rt.output)
    assert create(rt.url, "allowed")[0] == 200
    rt.stop()


def test_a_state_machine_edit_updates_the_definition_in_place(tmp_path, project, cli_runtime):
    import boto3

    rt = cli_runtime(tmp_path / "state", extra=["--watch", "--project-dir", str(project)])
    sfn = boto3.client("stepfunctions", endpoint_url=rt.aws_endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"] == "chronicle-command-CreateProject")
    asl = project / "statemachine" / "command.asl.json"
    definition = json.loads(asl.read_text())

    asl.write_text("{ not json")  # broken: reported, the running definition stays
    assert wait_for(lambda: "NOT reloaded" in "".join(rt.output), timeout=30), "".join(rt.output)
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])["Comment"] == \
        definition["Comment"]

    definition["Comment"] = "edited while running"
    asl.write_text(json.dumps(definition, indent=2))
    assert wait_for(lambda: json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])["Comment"]
                    == "edited while running", timeout=30), "".join(rt.output)
    assert create(rt.url, "after the edit")[0] == 200
    assert wait_for(lambda: "state machine definitions updated" in "".join(rt.output)), "".join(rt.output)
    rt.stop()
