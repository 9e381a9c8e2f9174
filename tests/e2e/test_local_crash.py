"""`chronicle local` killed under load: whatever was acknowledged is there after a restart, and the read model
catches up with the store by itself.

Eight clients send commands (each on its own streams, with expectedVersion and a commandId) while the runtime is
killed with SIGKILL at random moments, then stopped with SIGINT (Ctrl-C) under load; after each restart on the same
state directory: every acknowledged event is stored, streams are gapless, a command that got no answer and is sent
again with its commandId gives an answer whose events are stored, and every project's read model equals the fold
of its history (projectAt) within a few seconds.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from local_helpers import ROOT, graphql, http

pytestmark = pytest.mark.e2e

CLIENTS = 8
SEED = random.randrange(1 << 30)


class Client:
    """Sends commands until told to stop; a command without an answer is sent again, same commandId, next time."""

    def __init__(self, index: int, rng: random.Random) -> None:
        self.index, self.rng = index, rng
        self.url = ""
        self.stop_flag = threading.Event()
        self.acked: dict[str, dict[int, str]] = {}  # aggregateId -> sequence -> eventId, from 200 answers
        self.versions: dict[str, int] = {}  # what this client knows of its streams
        self.pending: tuple[str, dict] | None = None  # a command sent that got no answer yet
        self.errors: list[str] = []

    def next_command(self) -> tuple[str, dict]:
        if not self.versions or self.rng.random() < 0.2:
            return "CreateProject", {"aggregateId": f"project-{uuid.uuid4()}", "commandId": str(uuid.uuid4()),
                                     "data": {"name": f"c{self.index}", "ownerId": f"client-{self.index}"}}
        stream = self.rng.choice(sorted(self.versions))
        return "ChangeProjectConfiguration", {
            "aggregateId": stream, "expectedVersion": self.versions[stream], "commandId": str(uuid.uuid4()),
            "data": {"set": {f"k{self.rng.randrange(5)}": self.rng.randrange(1000)}}}

    def send(self, command_type: str, body: dict) -> tuple[int, dict] | None:
        req = urllib.request.Request(f"{self.url}/commands/{command_type}", data=json.dumps(body).encode(),
                                     method="POST", headers={"content-type": "application/json",
                                                             "X-Actor-Id": f"client-{self.index}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")
        except (OSError, ValueError):  # refused, reset, cut short: the runtime died under us
            return None

    def run(self) -> None:
        while not self.stop_flag.is_set():
            command_type, body = self.pending or self.next_command()
            self.pending = (command_type, body)
            answer = self.send(command_type, body)
            if answer is None or answer[0] == 503:
                time.sleep(0.05)
                continue
            self.pending = None
            status, result = answer
            if status != 200:
                self.errors.append(f"{command_type} {body}: {status} {result}")
                continue
            stream = result["aggregateId"]
            for event in result["events"]:
                self.acked.setdefault(stream, {})[event["eventSequence"]] = event["eventId"]
            self.versions[stream] = result["version"]


def acknowledged(clients: list[Client]) -> int:
    return sum(len(events) for c in clients for events in c.acked.values())


def load(clients: list[Client], url: str, at_least: int, then: float) -> list[threading.Thread]:
    """Start the clients; return once they got ``at_least`` more acknowledgements, plus ``then`` seconds (so the
    moment of a kill is random, but never before anything was acknowledged)."""
    for client in clients:
        client.url = url
        client.stop_flag.clear()
    threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
    for t in threads:
        t.start()
    target, deadline = acknowledged(clients) + at_least, time.monotonic() + 60
    while acknowledged(clients) < target and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(then)
    return threads


def halt(clients: list[Client], threads: list[threading.Thread]) -> None:
    for client in clients:
        client.stop_flag.set()
    for t in threads:
        t.join(timeout=60)


def stored_events(aws_endpoint: str) -> dict[str, dict[int, str]]:
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint, region_name="us-east-1",
                            aws_access_key_id="x", aws_secret_access_key="x")
    stored: dict[str, dict[int, str]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName="chronicle-EventStoreTable"):
        for item in page["Items"]:
            stored.setdefault(item["aggregateId"]["S"], {})[int(item["eventSequence"]["N"])] = item["eventId"]["S"]
    return stored


READ = "query Q($id: ID!) { now: project(id: $id) { version name configuration } " \
       "fold: projectAt(id: $id) { version name configuration } }"


def check(runtime, clients: list[Client], trial: str) -> None:
    stored = stored_events(runtime.aws_endpoint)
    for client in clients:
        assert not client.errors, (trial, client.errors[:3])
        for stream, events in client.acked.items():
            for sequence, event_id in events.items():
                assert stored.get(stream, {}).get(sequence) == event_id, (
                    f"{trial}: acknowledged event {stream}#{sequence} lost (seed {SEED})")
    for stream, events in stored.items():
        assert sorted(events) == list(range(1, len(events) + 1)), f"{trial}: gap in {stream}: {sorted(events)}"
    lagging = list(stored)
    deadline = time.monotonic() + 10
    while lagging and time.monotonic() < deadline:
        lagging = [s for s in lagging if (lambda r: r["now"] != r["fold"])(graphql(runtime.url, READ, id=s))]
        if lagging:
            time.sleep(0.2)
    assert not lagging, f"{trial}: read model differs from the fold of history for {len(lagging)} streams, e.g. " \
                        f"{graphql(runtime.url, READ, id=lagging[0])} (seed {SEED})"


def test_nothing_acknowledged_is_lost_when_killed_or_interrupted_under_load(cli_runtime, tmp_path):
    rng = random.Random(SEED)
    clients = [Client(i, random.Random(rng.random())) for i in range(CLIENTS)]
    state = tmp_path / "state"
    runtime = cli_runtime(state)
    for trial in range(3):
        threads = load(clients, runtime.url, rng.randrange(5, 25), rng.uniform(0, 0.5))
        runtime.kill()  # SIGKILL at a random moment, clients mid-request
        halt(clients, threads)
        runtime = cli_runtime(state)
        check(runtime, clients, f"SIGKILL trial {trial + 1}")
    threads = load(clients, runtime.url, rng.randrange(5, 25), rng.uniform(0, 0.5))
    out = runtime.stop()  # SIGINT, clients still sending
    halt(clients, threads)
    assert "Stopped." in out
    runtime = cli_runtime(state)
    check(runtime, clients, "SIGINT")
    # Commands that never got an answer are answered now (same commandId: the first outcome, or a first run).
    threads = load(clients, runtime.url, CLIENTS, 0)
    halt(clients, threads)
    check(runtime, clients, "after retries")
    runtime.stop()


def test_a_second_instance_on_the_same_state_dir_exits_at_once_naming_the_first(cli_runtime, tmp_path):
    state = tmp_path / "state"
    first = cli_runtime(state)
    second = subprocess.run([sys.executable, "-m", "chronicle.cli", "local", "--port", "0", "--state-dir", str(state)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert second.returncode != 0
    assert f"pid {first.proc.pid}" in second.stderr and f"port {first.port}" in second.stderr, second.stderr
    assert "Ready." not in second.stdout
    status, _ = http("GET", f"{first.url}/health")  # the first one is untouched
    assert status == 200
    first.stop()


def test_an_acknowledged_template_body_in_s3_survives_a_kill(cli_runtime, tmp_path):
    """UploadTemplate puts the body in S3 before it appends: the object is journaled too (its bytes before the
    record naming them), so after kill -9 the read model's body read-through still finds it."""
    state = tmp_path / "state"
    first = cli_runtime(state)
    body = "replicas: ${{ parameters.replicas }}\n# kept\n"
    status, answer = http("POST", f"{first.url}/commands/UploadTemplate", {"data": {
        "name": "kept", "body": body,
        "parameters": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}, {"X-Actor-Id": "a"})
    assert status == 200, answer
    first.kill()
    second = cli_runtime(state)
    query = "query Q($id: ID!) { template(id: $id) { name body } }"
    assert graphql(second.url, query, id=answer["aggregateId"])["template"] == {"name": "kept", "body": body}
    second.stop()
