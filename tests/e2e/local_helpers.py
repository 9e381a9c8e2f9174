"""Helpers for the end-to-end tests: HTTP with urllib, and `chronicle local` in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def http(method: str, url: str, body: bytes | str | dict | None = None, headers: dict | None = None,
         timeout: float = 30) -> tuple[int, dict]:
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def graphql(url: str, query: str, **variables) -> dict:
    status, body = http("POST", f"{url}/graphql", {"query": query, "variables": variables})
    assert status == 200, body
    assert not body.get("errors"), body
    return body["data"]


def free_port() -> int:
    from chronicle.local.emulator import free_port as _free

    return _free()


class CliRuntime:
    """`python -m chronicle.cli local ...` in a subprocess, stopped with SIGINT like a user's Ctrl-C."""

    def __init__(self, state_dir: Path, ephemeral: bool = False, inject: list[str] | None = None) -> None:
        self.port, self.aws_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.aws_endpoint = f"http://127.0.0.1:{self.aws_port}"
        # inject: outages for tests/e2e/patched_local.py (e.g. ["--refuse-bus", "chronicle.Project"])
        program = [str(ROOT / "tests" / "e2e" / "patched_local.py"), *inject, "--"] if inject else ["-m", "chronicle.cli"]
        args = [sys.executable, *program, "local", "--port", str(self.port),
                "--aws-port", str(self.aws_port), "--state-dir", str(state_dir)]
        if ephemeral:
            args.append("--ephemeral")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
        for key in ("AWS_ENDPOINT_URL", "MOTO_PORT"):
            env.pop(key, None)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.output: list[str] = []
        deadline = time.monotonic() + 30
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.output.append(line)
            if line.strip() == "Ready.":
                break
            if time.monotonic() > deadline:
                break
        else:
            raise AssertionError("chronicle local exited:\n" + "".join(self.output))
        self.startup_seconds = time.monotonic() - self.started
        # Keep reading: the handlers log to stdout, and a full pipe would block them mid-command.
        self._reader = threading.Thread(target=lambda: self.output.extend(self.proc.stdout), daemon=True)
        self._reader.start()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        self._reader.join(timeout=10)
        assert self.proc.returncode == 0, "".join(self.output)
        return "".join(self.output)


