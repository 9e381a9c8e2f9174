"""Every sample under events/ runs with `chronicle invoke` on a fresh ephemeral stack (events/samples.yaml sets
up the state each needs), and `chronicle invoke` takes what `sam local invoke` users type."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from local_helpers import ROOT
from test_local_invoke import invoke

pytestmark = pytest.mark.e2e

# One process for all samples (a fresh stack each, one after the other): a process per sample is mostly imports.
_ALL_SAMPLES = textwrap.dedent("""
    import contextlib, io, json, sys
    from pathlib import Path
    from chronicle.local.invoke import run
    for path in sorted(Path("events").glob("*/*.json")):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(path.parent.name, str(path), False, "", None)
        print(json.dumps({"sample": str(path), "code": code, "out": out.getvalue(), "err": err.getvalue()[-3000:]}),
              file=sys.__stdout__, flush=True)
""")


@pytest.fixture(scope="module")
def samples() -> dict[str, dict]:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env["PYTHONPATH"] = str(ROOT / "src")
    done = subprocess.run([sys.executable, "-c", _ALL_SAMPLES], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"sample"')]
    return {row["sample"]: row for row in rows}


def meant(sample: str) -> int:
    """1 for a sample events/samples.yaml marks as meant to fail, else 0."""
    import yaml

    doc = yaml.safe_load((ROOT / "events" / "samples.yaml").read_text())
    return 1 if (doc["samples"].get(sample[len("events/"):-len(".json")]) or {}).get("fails") else 0


def test_every_sample_exits_0_on_a_fresh_stack(samples):
    assert meant("events/validate_command/invalid-body.json") == 1
    assert len(samples) == len(list((ROOT / "events").glob("*/*.json")))
    failed = {name: row["err"] for name, row in samples.items() if row["code"] != meant(name)}
    assert failed == {}, json.dumps(failed, indent=1)[-6000:]


def test_resolver_and_verify_samples_show_real_results(samples):
    def result(name: str):
        return json.loads(samples[f"events/{name}.json"]["out"])

    assert result("graphql_resolver/query-project")["name"] == "Payments"
    assert [e["eventType"] for e in result("graphql_resolver/query-history")] == ["ProjectCreated"]
    assert result("graphql_resolver/query-template")["name"] == "web-service"
    assert result("graphql_resolver/query-template-usage")["serviceCount"] == 1
    assert result("verify_chain/verify-stream")["ok"] is True, result("verify_chain/verify-stream")
    assert "given: CreateProject project-sample-1 as alice" in samples["events/verify_chain/verify-stream.json"]["err"]
    failing = samples["events/validate_command/invalid-body.json"]
    assert json.loads(failing["out"])["errorType"] == "ValidationError" and "meant to fail" in failing["err"]


def test_sam_flags_env_vars_parameter_overrides_report_and_error_line(tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"ValidateCommandFunction": {"POWERTOOLS_SERVICE_NAME": "from-env-file"},
                                    "Parameters": {"POWERTOOLS_LOG_LEVEL": "INFO"}}))
    done = invoke("ValidateCommandFunction", "-e", "events/validate_command/create-project.json",
                  "--env-vars", str(env_file), "--parameter-overrides", "AdminActorIds=alice RetentionDays=30")
    assert done.returncode == 0, done.stderr
    assert '"service":"from-env-file"' in done.stderr  # the handler's logger read the file's variable
    report = next(line for line in done.stderr.splitlines() if line.startswith("REPORT"))
    for field in ("Duration:", "Init Duration:", "Max Memory Used:", "Memory Size: 512 MB"):
        assert field in report, report

    failed = invoke("validate_command", "-e", "events/validate_command/invalid-body.json")
    assert failed.returncode == 1 and "meant to fail with ValidationError" in failed.stderr
    assert "[ERROR] ValidationError:" in failed.stderr and "Traceback (most recent call last):" in failed.stderr
    bad = invoke("validate_command", "--parameter-overrides", "NoEquals")
    assert bad.returncode == 2 and "not Key=Value" in bad.stderr


def test_debug_port_waits_for_a_debugger_before_the_handler_runs(tmp_path):
    import os
    import socket
    import time

    from local_helpers import free_port

    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "chronicle.cli", "invoke", "validate_command", "-e",
                             "events/validate_command/create-project.json", "--debug-port", str(port)],
                            cwd=ROOT, env={k: v for k, v in env.items() if not k.startswith("AWS_")},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "invoke did not wait for a debugger"
                time.sleep(0.5)
        with conn:
            conn.sendall(b"c\n")  # pdb: continue
            out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Waiting for a debugger" in err and json.loads(out)["commandType"] == "CreateProject"
