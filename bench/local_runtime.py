"""The local runtime end to end over HTTP, printed not asserted; every figure comes from one run.

    make bench                      # or, from the repo root with the venv:
    PYTHONPATH=src python bench/local_runtime.py

Measures (a durable runtime: state dir, journal, fsync before every answer)
- startup of `chronicle local` (in-process LocalRuntime): template -> emulator -> resources -> server;
- one command's latency (p50 / p95, ChangeProjectConfiguration, one client) over HTTP through the state machine,
  and the same three handlers called directly in-process (validate -> append -> publish, then the projection and
  the journal sync), with the ratio of the two;
- AddService (LoadFacts: the template from the event store; conditional append) and UploadTemplate (S3 put, append,
  validation, second append) latency, measured interleaved with CreateProject, as ratios to it (target for
  AddService: at most 2x);
- commands/s with one client, 4 clients on 4 streams and on 1 shared stream (ratios to one client), whether
  every stream ended gapless with every success stored;
- 16 clients (a new connection per request): commands/s, p50 / p99 latency and connection errors;
- one client against `chronicle local` of this tree and of eb3cbb1 (the main issue 9 measured; `git archive` into
  a temp dir), each served as its own process, rounds interleaved: the ratio of the two (target: at least 5x).
  `--no-baseline` skips it; without git history it prints why it was not measured.

Clients are another process (bench/http_load.py), as a client of `make local` is: their CPU is not the runtime's.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

# The handlers' logs and metrics would drown the table (they are still produced, just not printed).
os.environ.update({"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
warnings.filterwarnings("ignore", message="No application metrics to publish")

from chronicle.local.runtime import LocalRuntime  # noqa: E402

SEQUENTIAL, CLIENTS, PER_CLIENT, MANY = 40, 4, 10, 16


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def change(runtime, project_id: str, i: int) -> tuple[int, dict]:
    return post(f"{runtime.url}/commands/ChangeProjectConfiguration",
                {"aggregateId": project_id, "data": {"set": {f"k{i % 7}": i}}})


def create(runtime) -> str:
    """A new project on `runtime` (anything with a `url`: the in-process runtime or a served one)."""
    status, body = post(f"{runtime.url}/commands/CreateProject", {"data": {"name": "bench", "ownerId": "bench"}})
    assert status == 200, body
    return body["aggregateId"]


TEMPLATE = {"name": "bench", "body": "replicas: ${{ parameters.replicas }}\n",
            "parameters": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}


def timed(call) -> float:
    t = time.perf_counter()
    status, body = call()
    assert status == 200, body
    return time.perf_counter() - t


def p50_p95(latencies: list[float]) -> tuple[float, float]:
    return statistics.median(latencies), statistics.quantiles(latencies, n=20)[18]


def workflow_latencies(runtime) -> list[tuple[str, str, str]]:
    """CreateProject, AddService and UploadTemplate one after the other, SEQUENTIAL rounds: the same conditions."""
    status, body = post(f"{runtime.url}/commands/UploadTemplate", {"data": TEMPLATE})
    assert status == 200, body
    template_id, project_id = body["aggregateId"], create(runtime)
    post(f"{runtime.url}/commands/AddService", {"aggregateId": project_id, "data": {  # warm its handlers
        "serviceName": "warm", "templateId": template_id, "parameters": {"replicas": 1}}})
    runs: dict[str, list[float]] = {"CreateProject": [], "AddService": [], "UploadTemplate": []}
    for i in range(SEQUENTIAL):
        runs["CreateProject"].append(timed(lambda: post(f"{runtime.url}/commands/CreateProject",
                                                        {"data": {"name": "bench", "ownerId": "bench"}})))
        runs["AddService"].append(timed(lambda i=i: post(f"{runtime.url}/commands/AddService", {
            "aggregateId": project_id, "data": {"serviceName": f"s{i}", "templateId": template_id,
                                                "parameters": {"replicas": 1}}})))
        runs["UploadTemplate"].append(timed(lambda: post(f"{runtime.url}/commands/UploadTemplate",
                                                         {"data": TEMPLATE})))
    base, _ = p50_p95(runs["CreateProject"])
    rows = []
    for name, latencies in runs.items():
        p50, p95 = p50_p95(latencies)
        note = f"{SEQUENTIAL} commands, projection included"
        if name != "CreateProject":
            note = f"p50 ratio to CreateProject {p50 / base:.2f}" + (" (target <= 2)" if name == "AddService" else "")
        rows.append((f"{name} latency p50 / p95, 1 client", f"{p50 * 1000:.0f} / {p95 * 1000:.0f} ms", note))
    return rows


def run_clients(runtime, streams: list[str], clients: int, per_client: int) -> dict:
    """``clients`` threads in another process (bench/http_load.py), client c writes ``per_client`` changes to
    streams[c % len(streams)]: the runtime's process serves and the client's CPU is not counted against it.
    Adds the runtime process's CPU per command (the projections of the load included) and how busy the process was
    while the load ran (its CPU time over the load's wall time: near 1, more clients cannot add throughput)."""
    cpu = time.process_time()
    result = load(runtime.url, streams, clients, per_client)
    busy = time.process_time() - cpu
    runtime.dispatcher.wait_idle(30)
    commands = clients * per_client
    result["cpu_ms"] = (time.process_time() - cpu) * 1000 / commands
    result["busy"] = busy * result["rate"] / commands
    return result


def load(url: str, streams: list[str], clients: int, per_client: int) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "http_load.py"), url, "--streams", *streams,
                          "--clients", str(clients), "--per-client", str(per_client)],
                         check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout)


def gapless(project_id: str) -> tuple[bool, int]:
    from chronicle import aws

    sequences = [e["eventSequence"] for e in aws.event_store().read(project_id)]
    return sequences == list(range(1, len(sequences) + 1)), len(sequences)


class Direct:
    """The command's three handlers called in-process, in order, as the state machine would, plus what the server
    does before answering (this command's projection, the journal sync): the floor the local runtime adds to."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        handlers = {spec.code_dir.name: name for name, spec in runtime.stack.handlers.items()}
        self.validate, self.append, self.publish = (runtime.registry.handler(handlers[n]) for n in
                                                    ("validate_command", "append_events", "publish_events"))

    def run(self, project_id: str, i: int) -> None:
        from chronicle.local.seam import LambdaContext

        def context() -> LambdaContext:
            return LambdaContext(function_name="direct", invoked_function_arn="arn:aws:lambda:::function:direct",
                                 memory_limit_in_mb=512, aws_request_id=str(uuid.uuid4()))

        body = json.dumps({"aggregateId": project_id, "data": {"set": {f"k{i % 7}": i}}})
        request = {"commandType": "ChangeProjectConfiguration", "body": body, "actorId": "bench",
                   "requestId": str(uuid.uuid4())}
        command = self.validate(request, context())
        outcome = self.append({"command": command, "attempt": 0}, context())  # as the workflow hands it over
        self.publish(outcome, context())
        dispatcher = self.runtime.dispatcher
        dispatcher.wait_for(dispatcher.ticket())
        self.runtime.durable.sync()


# The main the issue measured (docs/local-runtime.md): `make bench` there gave 8.2 commands/s with one client.
BASELINE = "eb3cbb1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """`chronicle local` of a source tree as its own process, as `make local` runs it (durable state dir)."""

    def __init__(self, tree: Path, name: str) -> None:
        self.name, self.tree = name, tree
        self.state = Path(tempfile.mkdtemp(prefix=f"chronicle-bench-{name}-"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(tree / "src")}
        env.pop("POWERTOOLS_LOG_LEVEL", None)  # as `make local` runs: its logs written (here to /dev/null)
        env.pop("POWERTOOLS_METRICS_DISABLED", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chronicle.cli", "local", "--port", str(port), "--aws-port", str(free_port()),
             "--state-dir", str(self.state / "state")], cwd=tree, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chronicle local of {name} did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.state, ignore_errors=True)


def baseline_tree(rev: str) -> Path | None:
    """The source tree of ``rev`` (git archive into a temp dir), or None without git or that commit."""
    if shutil.which("git") is None:
        return None
    check = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{rev}^{{commit}}"], capture_output=True)
    if check.returncode != 0:
        return None
    tree = Path(tempfile.mkdtemp(prefix=f"chronicle-{rev}-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def against_baseline(rounds: int = 3, per_round: int = 20) -> list[tuple[str, str, str]]:
    """One client, `chronicle local` of this tree and of BASELINE, each its own process, rounds interleaved so both
    see the same machine: commands answered / seconds over all rounds."""
    tree = baseline_tree(BASELINE)
    if tree is None:
        return [(f"commands/s, 1 client, vs {BASELINE}", "-", f"no git history with {BASELINE} here: not measured")]
    servers = []
    try:
        servers = [Served(ROOT, "this tree"), Served(tree, BASELINE)]
        totals = {s.name: [0, 0.0] for s in servers}
        for server in servers:  # warm: handler modules import on first use
            load(server.url, [create(server)], 1, 2)
        for r in range(rounds):
            for server in (servers if r % 2 == 0 else servers[::-1]):
                result = load(server.url, [create(server)], 1, per_round)
                assert result["ok"] == per_round, result
                totals[server.name][0] += result["ok"]
                totals[server.name][1] += result["ok"] / result["rate"]
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tree, ignore_errors=True)
    rate = {name: n / seconds for name, (n, seconds) in totals.items()}
    return [(f"commands/s, 1 client, `chronicle local` {name}", f"{rate[name]:.1f}",
             f"{rounds} x {per_round} ChangeProjectConfiguration, interleaved, each server its own process"
             + ("" if name != "this tree" else f"; ratio to {BASELINE} {rate[name] / rate[BASELINE]:.2f}x "
                                               "(target >= 5)"))
            for name in ("this tree", BASELINE)]


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    started = time.perf_counter()
    state = tempfile.mkdtemp(prefix="chronicle-bench-")
    runtime = LocalRuntime(root=ROOT, port=0, state_dir=state)
    t0 = time.perf_counter()
    runtime.start()
    startup = time.perf_counter() - t0
    gc.collect()  # as `chronicle local` does once started (chronicle.cli)
    gc.freeze()
    rows = [("startup (template -> resources -> serving)", f"{startup:.2f} s", "in-process, durable state dir")]
    try:
        create(runtime)  # warm: handler modules import on first use
        rows += workflow_latencies(runtime)

        one = create(runtime)
        change(runtime, one, 0)  # warm: handler modules import on first use
        direct = Direct(runtime)
        direct.run(one, 0)
        http_lat, direct_lat = [], []
        for i in range(SEQUENTIAL):  # interleaved, so both see the same machine
            t = time.perf_counter()
            status, body = change(runtime, one, i)
            assert status == 200, body
            http_lat.append(time.perf_counter() - t)
            t = time.perf_counter()
            direct.run(one, i)
            direct_lat.append(time.perf_counter() - t)
        p50, p95 = statistics.median(http_lat), statistics.quantiles(http_lat, n=20)[18]
        d50, d95 = statistics.median(direct_lat), statistics.quantiles(direct_lat, n=20)[18]
        rows.append(("command latency p50 / p95, HTTP + state machine", f"{p50 * 1000:.0f} / {p95 * 1000:.0f} ms",
                     f"{SEQUENTIAL} ChangeProjectConfiguration, projection and fsync included"))
        rows.append(("same handlers called directly, p50 / p95", f"{d50 * 1000:.0f} / {d95 * 1000:.0f} ms",
                     f"ratio local / direct (p50) {p50 / d50:.2f}"))

        single = run_clients(runtime, [create(runtime)], 1, PER_CLIENT * 2)
        single_rate = single["rate"]
        rows.append(("commands/s, 1 client", f"{single_rate:.1f}",
                     f"ChangeProjectConfiguration; CPU {single['cpu_ms']:.1f} ms per command, "
                     f"process busy {single['busy']:.0%} of the time"))
        from chronicle.local import fastpath

        with fastpath.paused(runtime.emulator.dispatcher_app):  # HTTP between the parts, no caches: as before
            slow = run_clients(runtime, [create(runtime)], 1, PER_CLIENT)
        rows.append(("commands/s, 1 client, fast path off", f"{slow['rate']:.1f}",
                     f"speed-up of chronicle.local.fastpath {single_rate / slow['rate']:.2f}x"))

        for label, streams in ((f"{CLIENTS} clients, {CLIENTS} streams", [create(runtime) for _ in range(CLIENTS)]),
                               (f"{CLIENTS} clients, 1 shared stream", [create(runtime)])):
            result = run_clients(runtime, streams, CLIENTS, PER_CLIENT)
            checks = [gapless(s) for s in streams]
            stored = sum(n - 1 for _, n in checks)  # minus each stream's ProjectCreated
            rows.append((f"commands/s, {label}", f"{result['rate']:.1f}",
                         f"ratio to 1 client {result['rate'] / single_rate:.2f}; {result['ok']} ok, "
                         f"{result['other']} not; {stored} stored, gapless: {all(g for g, _ in checks)}; "
                         f"CPU {result['cpu_ms']:.1f} ms per command"))

        many = run_clients(runtime, [create(runtime) for _ in range(MANY)], MANY, PER_CLIENT)
        lat = many["latencies"]
        rows.append((f"commands/s, {MANY} clients, {MANY} streams", f"{many['rate']:.1f}",
                     f"p50 {percentile(lat, 0.5) * 1000:.0f} ms, p99 {percentile(lat, 0.99) * 1000:.0f} ms; "
                     f"{many['ok']} ok, {many['other']} not, connection errors: {len(many['errors'])}"))
        journal = runtime.health()["journal"]
        rows.append(("journal: records / fsyncs", f"{journal['records']} / {journal['fsyncs']}",
                     "group commit: one fsync covers every record appended before it"))
    finally:
        runtime.stop(save=False)
    if "--no-baseline" not in sys.argv:
        rows += against_baseline()

    width = max(len(r[0]) for r in rows)
    print(f"Local runtime benchmark (python {sys.version.split()[0]}; one run, {time.perf_counter() - started:.0f} s)")
    print(f"{'measure':<{width}}  {'value':>14}  notes")
    print(f"{'-' * width}  {'-' * 14}  {'-' * 40}")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")


if __name__ == "__main__":
    main()
