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


ADMIN = "e2e-admin"  # every runtime of these tests starts with --admin e2e-admin


def graphql(url: str, query: str, actor: str = ADMIN, **variables) -> dict:
    """Run a query as `actor` (X-Actor-Id, as the command API; reads obey docs/reference/authorization.md): by default as the
    bootstrap admin, who sees everything, so tests about something else need not care who created what."""
    status, body = http("POST", f"{url}/graphql", {"query": query, "variables": variables}, {"X-Actor-Id": actor})
    assert status == 200, body
    assert not body.get("errors"), body
    return body["data"]


def send_to_queue(aws_endpoint: str, name_part: str, body: str) -> None:
    """Put a message on the local stack's queue whose URL contains ``name_part`` (e.g. a dead-letter queue)."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=aws_endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    queue = [u for u in sqs.list_queues()["QueueUrls"] if name_part in u][0]
    sqs.send_message(QueueUrl=queue, MessageBody=body)


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def settle(runtime) -> None:
    """Wait until what the runtime stored so far was read from the event table's stream and every event on the bus was
    delivered (the workflow's publish and the stream safety net's second one both reach the projections)."""
    assert runtime.streams.wait_caught_up(), "the stream poller did not catch up"
    assert runtime.dispatcher.wait_idle(10), "the dispatcher did not go idle"


def free_port() -> int:
    from chronicle.local.emulator import free_port as _free

    return _free()


class CliRuntime:
    """`python -m chronicle.cli local ...` in a subprocess, stopped with SIGINT like a user's Ctrl-C."""

    def __init__(self, state_dir: Path, ephemeral: bool = False, inject: list[str] | None = None,
                 extra: list[str] | None = None) -> None:
        self.port, self.aws_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.aws_endpoint = f"http://127.0.0.1:{self.aws_port}"
        # inject: outages for tests/e2e/patched_local.py (e.g. ["--refuse-bus", "chronicle.Project"])
        program = [str(ROOT / "tests" / "e2e" / "patched_local.py"), *inject, "--"] if inject else ["-m", "chronicle.cli"]
        args = [sys.executable, *program, "local", "--port", str(self.port),
                "--aws-port", str(self.aws_port), "--state-dir", str(state_dir), "--admin", ADMIN]
        if ephemeral:
            args.append("--ephemeral")
        args += extra or []
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


