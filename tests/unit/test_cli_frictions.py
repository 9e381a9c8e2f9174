"""Small frictions of the command line: --version, a reader that stops early, why an archive run moved nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "src"))


def test_version():
    done = subprocess.run([sys.executable, "-m", "chronicle.cli", "--version"], capture_output=True, text=True,
                          env=ENV, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("chronicle "), done.stderr


def test_verify_json_into_head_ends_quietly():
    script = ("from chronicle.eventstore.chain import ChainReport\n"
              "from chronicle.eventstore.cli import print_reports\n"
              "import argparse, sys\n"
              "reports = [ChainReport(f's-{i}') for i in range(200000)]\n"
              "sys.exit(print_reports(argparse.Namespace(json=True, anchor_check=None), reports))\n")
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -c \"$S\" | head -1"],
                          capture_output=True, text=True, env=dict(ENV, S=script), timeout=120)
    assert '"aggregateId": "s-0"' in done.stdout
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr


def test_an_archive_run_that_moved_nothing_says_why():
    from chronicle.eventstore.cli import why_nothing_archived

    none = why_nothing_archived({"streams": 0, "events": 0, "failed": []}, "2026-01-01T00:00:00.000Z")
    assert "every 50 events" in none and "no stream has reached that many events" in none
    some = why_nothing_archived({"streams": 3, "events": 0, "failed": [{"aggregateId": "p-1"}]}, "2026-01-01")
    assert "3 streams had a snapshot" in some and "--older-than 0" in some and "p-1" in some
