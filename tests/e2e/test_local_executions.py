"""The execution trail (docs/local-runtime.md): every command answer names its execution, `chronicle executions` reads it back,
and a crashing handler prints its traceback and execution ARN on the `chronicle local` console without -v."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from local_helpers import ADMIN

from chronicle.cli import main

pytestmark = pytest.mark.e2e

HEADER = "X-Chronicle-Execution"


def command(url: str, command_type: str, body: dict, actor: str = "alice") -> tuple[int, dict, str | None]:
    req = urllib.request.Request(f"{url}/commands/{command_type}", data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", "X-Actor-Id": actor})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get(HEADER)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers.get(HEADER)


def printed_json(out: str) -> dict:
    """The --json document among the handlers' own log lines (they print to the same stdout in-process)."""
    return json.JSONDecoder().raw_decode(out[out.index("{\n"):])[0]


def test_200_and_409_name_their_executions_and_the_cli_shows_them(runtime, capsys):
    status, body, created = command(runtime.url, "CreateProject", {"data": {"name": "Trail", "ownerId": "alice"}})
    assert status == 200 and created and created.startswith("arn:aws:states:") and ":execution:" in created
    status, refused_body, refused = command(runtime.url, "CreateProject", {
        "aggregateId": body["aggregateId"], "data": {"name": "Again", "ownerId": "alice"}})
    assert status == 409 and refused and refused != created, refused_body

    assert main(["executions", "show", created, "--url", runtime.url]) == 0
    shown = capsys.readouterr().out
    states = [line.split()[1] for line in shown.splitlines() if line.startswith("- ")]
    assert states[:3] == ["ValidateCommand", "DecideAndAppend", "PublishEvents"], shown
    assert main(["executions", "show", created.rpartition(":")[2], "--url", runtime.url, "--json"]) == 0
    record = printed_json(capsys.readouterr().out)
    assert record["status"] == "SUCCEEDED" and record["states"][0]["input"]
    assert all(isinstance(s["durationMs"], int) and s["enteredAt"] for s in record["states"]), record["states"]

    assert main(["executions", "list", "--status", "FAILED", "--url", runtime.url, "--limit", "100"]) == 0
    assert refused in capsys.readouterr().out
    assert main(["executions", "list", "--status", "FAILED", "--url", runtime.url, "--json"]) == 0
    failed = printed_json(capsys.readouterr().out)["executions"]
    assert created not in [e["executionArn"] for e in failed]
    assert main(["executions", "show", refused, "--url", runtime.url, "--json"]) == 0
    states = {s["name"]: s for s in printed_json(capsys.readouterr().out)["states"]}
    assert states["Refused"]["status"] == "FAILED" and states["Refused"]["error"] == "AggregateAlreadyExists"


def test_an_actor_reads_only_its_own_executions(runtime, capsys):
    _, _, mine = command(runtime.url, "CreateProject", {"data": {"name": "Mine", "ownerId": "carol"}}, actor="carol")
    assert main(["executions", "show", mine, "--url", runtime.url, "--actor", "mallory"]) == 1
    assert "No execution" in capsys.readouterr().err
    assert main(["executions", "show", mine, "--url", runtime.url, "--actor", ADMIN]) == 0
    assert main(["executions", "show", mine, "--url", runtime.url, "--actor", "carol"]) == 0


def test_user_command_bodies_are_not_kept_in_clear(runtime, capsys):
    email = "erin.trail@example.com"
    status, body, arn = command(runtime.url, "RegisterUser", {"data": {"email": email, "displayName": "Erin T"}},
                                actor="erin-trail")
    assert arn, body
    assert main(["executions", "show", arn, "--url", runtime.url, "--json"]) == 0
    kept = capsys.readouterr().out
    record = printed_json(kept)
    assert email not in json.dumps(record) and "Erin T" not in json.dumps(record) and record["sealed"] is True
    import boto3

    sfn = boto3.client("stepfunctions", endpoint_url=runtime.aws_endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):  # nor does the emulator keep it
        sfn.describe_execution(executionArn=arn)


def test_a_crashing_handler_prints_its_traceback_and_execution_on_the_console(cli_runtime, tmp_path):
    rt = cli_runtime(tmp_path / "state", ephemeral=True, inject=["--decide-crashes"])
    status, body, arn = command(rt.url, "CreateProject", {"data": {"name": "Boom", "ownerId": "alice"}})
    assert status == 500 and arn and arn in body["message"], body
    assert f"/console/executions/{arn.rpartition(':')[2]}" in body["message"]
    status, body, refused = command(rt.url, "CreateProject", {"data": {}})
    assert status == 400 and refused
    output = rt.stop()
    error_lines = [line for line in output.splitlines() if " ERROR " in line and arn in line]
    assert len(error_lines) == 1 and "CreateProject" in error_lines[0], output
    after = output[output.index(error_lines[0]):]
    assert "Traceback (most recent call last):" in after and "KeyError: 'ownerId'" in after
    assert "app.py" in after  # the handler's frame
    assert any(" INFO 400 ValidationError CreateProject" in line and refused in line for line in output.splitlines())


def test_the_emulator_keeps_only_the_last_executions_the_trail_keeps_the_rest(runtime):
    """moto keeps every execution with its whole interpreter state (the memory growth of issue 20): the trail
    keeps a condensed record instead and the emulator only its last few."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from chronicle.local.trail import MOTO_KEEP

    arns = [command(runtime.url, "CreateProject", {"data": {"name": f"N{i}", "ownerId": "alice"}})[2]
            for i in range(MOTO_KEEP + 5)]
    backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
    machine = backend.describe_state_machine(runtime.stack.state_machines["chronicle-command-CreateProject"])
    assert len(machine.executions) <= MOTO_KEEP
    assert all(runtime.trail.get(arn) is not None for arn in arns)


@pytest.mark.parametrize("query", ["status=BOGUS", "limit=0", "limit=x", "command=not-a-type"])
def test_bad_listing_queries_are_spec_400s(runtime, query):
    from local_helpers import http

    status, body = http("GET", f"{runtime.url}/console/api/executions?{query}")
    assert status == 400 and body["error"] == "ValidationError" and set(body) == {"error", "message", "details"}


def test_an_unknown_execution_is_a_spec_404(runtime, capsys):
    from local_helpers import http

    status, body = http("GET", f"{runtime.url}/console/api/executions/no-such-execution")
    assert status == 404 and body["error"] == "NotFound"
    assert main(["executions", "show", "no-such-execution", "--url", runtime.url]) == 1


def test_executions_and_dead_letters_survive_a_kill_through_the_journal(cli_runtime, tmp_path):
    """No checkpoint on SIGKILL: what comes back was replayed from the journal's records."""
    from local_helpers import http, send_to_queue

    state = tmp_path / "state"
    first = cli_runtime(state)
    status, _, arn = command(first.url, "CreateProject", {"data": {"name": "Killed", "ownerId": "alice"}})
    assert status == 200
    send_to_queue(first.aws_endpoint, "ProjectionDeadLetter", '{"lost": "never"}')
    first.kill()

    second = cli_runtime(state)
    status, body = http("GET", f"{second.url}/console/api/executions/{arn.rpartition(':')[2]}")
    assert status == 200 and [s["name"] for s in body["states"]][:3] == [
        "ValidateCommand", "DecideAndAppend", "PublishEvents"]
    status, body = http("GET", f"{second.url}/console/api/dead-letters")
    [projection] = [q for q in body["queues"] if q["logicalId"] == "ProjectionDeadLetterQueue"]
    assert [m["body"] for m in projection["messages"]] == ['{"lost": "never"}']
    second.stop()
