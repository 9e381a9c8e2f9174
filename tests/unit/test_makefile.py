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


def test_the_first_setup_shows_progress_and_still_fails_when_pip_fails(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("no make")
    venv, bin_dir = tmp_path / "venv", tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nexit 0\n")  # `python -m venv` stands in: the bin/ is already there
    python.chmod(0o755)
    pip = bin_dir / "pip"
    pip.write_text('#!/bin/sh\ncase "$*" in *--quiet*) exit 0;; esac\necho "WARNING: noise"\necho "Collecting boto3"\necho "Collecting moto"\n'
                   'echo "Successfully installed boto3 moto"\nexit ${PIP_EXIT:-0}\n')
    pip.chmod(0o755)
    args = ["make", "setup", f"VENV={venv}", f"BIN={bin_dir}", f"PYTHON={python}"]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "First run" in done.stdout and "Collecting moto" in done.stdout and "WARNING" not in done.stdout
    assert (venv / ".installed").exists()
    (venv / ".installed").unlink()
    failed = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PIP_EXIT": "1"})
    assert failed.returncode != 0 and not (venv / ".installed").exists()
