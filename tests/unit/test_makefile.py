"""What `make deploy` and `make setup` run, checked with a stand-in sam and pip (no AWS, no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE = """#!/bin/sh
echo "$(basename "$0") $* | region=${AWS_DEFAULT_REGION-unset}" >> "$LOG"
"""


@pytest.fixture
def fake_venv(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("no make")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for tool in ("sam", "pip", "python", "chronicle"):
        (venv / "bin" / tool).write_text(FAKE)
        (venv / "bin" / tool).chmod(0o755)
    time.sleep(0.01)
    (venv / ".installed").touch()  # newer than pyproject.toml: setup is done
    return venv


def make(target: str, venv: Path, log: Path, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE"))}
    environ.update(LOG=str(log), **env)
    subprocess.run(["make", "-s", target, f"VENV={venv}", f"BIN={venv}/bin"], cwd=ROOT, env=environ, check=True,
                   capture_output=True, text=True, timeout=60)
    return log.read_text()


def test_deploy_reads_samconfig_and_keeps_your_region(fake_venv, tmp_path):
    calls = make("deploy", fake_venv, tmp_path / "log").splitlines()
    deploy = next(c for c in calls if c.startswith("sam deploy"))
    assert f"--config-file {ROOT}/samconfig.toml" in deploy
    assert deploy.endswith("region=unset")  # sam takes the region from your profile (or ARGS="--region ...")
    calls = make("deploy", fake_venv, tmp_path / "log2", AWS_DEFAULT_REGION="eu-west-1").splitlines()
    assert next(c for c in calls if c.startswith("sam deploy")).endswith("region=eu-west-1")


def test_checks_that_need_a_region_still_get_one(fake_venv, tmp_path):
    calls = make("build", fake_venv, tmp_path / "log").splitlines()
    assert next(c for c in calls if c.startswith("sam build")).endswith("region=us-east-1")
