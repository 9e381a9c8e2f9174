"""`chronicle invoke FUNCTION -e EVENT`: the `sam local invoke` of this repository, without Docker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from local_helpers import ROOT, graphql

pytestmark = pytest.mark.e2e


def invoke(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    for key in ("AWS_ENDPOINT_URL", "MOTO_PORT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        env.pop(key, None)
    return subprocess.run([sys.executable, "-m", "chronicle.cli", "invoke", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def history(url: str, aggregate_id: str) -> list[str]:
    data = graphql(url, "query($id: ID!) { history(aggregateId: $id) { eventType } }", id=aggregate_id)
    return [e["eventType"] for e in data["history"]]


def test_invoke_prints_the_result_on_stdout_and_the_logs_on_stderr():
    done = invoke("validate_command", "-e", "events/validate_command/create-project.json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout is the result only: pipeable to jq
    assert result["commandType"] == "CreateProject" and result["aggregateId"] == "project-sample-1"
    assert "START RequestId" in done.stderr and "REPORT RequestId" in done.stderr
    assert '"message":"command accepted"' in done.stderr  # the handler's own log line

    failed = invoke("ValidateCommandFunction", "-e", "events/validate_command/invalid-body.json")
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["errorType"] == "ValidationError"

    unknown = invoke("nope")
    assert unknown.returncode == 2 and "ValidateCommandFunction" in unknown.stderr


def test_a_sample_lands_in_the_running_stack_only_when_asked(tmp_path, cli_runtime):
    rt = cli_runtime(tmp_path / "state")
    sample = "events/append_events/create-project.json"
    done = invoke("append_events", "-e", sample)  # a fresh ephemeral stack: the running one is untouched
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["response"]["version"] == 1
    assert history(rt.url, "project-sample-1") == []

    done = invoke("append_events", "-e", sample, "--running", "--url", rt.url)
    assert done.returncode == 0, done.stderr
    assert history(rt.url, "project-sample-1") == ["ProjectCreated"]
    rt.stop()

    no_stack = invoke("append_events", "-e", sample, "--running", "--url", rt.url)
    assert no_stack.returncode == 2 and "no chronicle local answers" in no_stack.stderr
