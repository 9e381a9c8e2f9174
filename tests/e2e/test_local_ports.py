"""`chronicle local`'s ports: the emulator's is stable by default, and a taken port is named with its option."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from local_helpers import ROOT, free_port

from chronicle.cli import aws_port, build_parser

pytestmark = pytest.mark.e2e


def test_the_emulator_port_is_stable_by_default():
    args = build_parser().parse_args(["local"])
    assert (args.port, aws_port(args.port, args.aws_port)) == (3000, 3001)
    assert aws_port(3100, None) == 3101 and aws_port(0, None) is None and aws_port(3000, 4566) == 4566


@pytest.mark.parametrize("option", ["--port", "--aws-port"])
def test_a_taken_port_is_named_with_the_option_that_changes_it(option):
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = free_port()
        ports = ["--port", str(port), "--aws-port", str(other)] if option == "--port" else \
            ["--port", str(other), "--aws-port", str(port)]
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        done = subprocess.run([sys.executable, "-m", "chronicle.cli", "local", "--ephemeral", *ports], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in done.stderr and f"{option} N" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
