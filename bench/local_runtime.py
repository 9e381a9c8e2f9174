"""The local runtime end to end over HTTP, printed not asserted; every figure comes from one run.

    make bench                      # or, from the repo root with the venv:
    PYTHONPATH=src python bench/local_runtime.py

Measures
- startup of `chronicle local` (in-process LocalRuntime, ephemeral): template -> emulator -> resources -> server;
- command latency (p50 / p95) of CreateProject, one client: Validate -> DecideAndAppend -> Publish -> projection;
- AddService (LoadFacts: the template from the event store; conditional append) and UploadTemplate (S3 put, append,
  validation, second append) latency, measured interleaved with CreateProject, as ratios to it (target for
  AddService: at most 2x);
- throughput with 4 clients on 4 streams and on 1 shared stream (no expectedVersion: conflicts are retried by
  the state machine), as ratios to one client, and whether every stream ended gapless with every success stored.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
import urllib.request
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

# The handlers' logs and metrics would drown the table (they are still produced, just not printed).
os.environ.update({"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
warnings.filterwarnings("ignore", message="No application metrics to publish")

from chronicle.local.runtime import LocalRuntime  # noqa: E402

SEQUENTIAL, CLIENTS, PER_CLIENT = 40, 4, 10


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
                {"aggregateId": project_id, "data": {"set": {f"k{i}": i}}})


def create(runtime) -> str:
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


def run_clients(runtime, streams: list[str]) -> tuple[float, int, int]:
    """CLIENTS threads, client c writes PER_CLIENT changes to streams[c % len(streams)]; (seconds, ok, failed)."""
    results: list[int] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        for i in range(PER_CLIENT):
            status, _ = change(runtime, streams[c % len(streams)], c * 1000 + i)
            with lock:
                results.append(status)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, results.count(200), len(results) - results.count(200)


def gapless(runtime, project_id: str) -> tuple[bool, int]:
    store = runtime_store()
    sequences = [e["eventSequence"] for e in store.read(project_id)]
    return sequences == list(range(1, len(sequences) + 1)), len(sequences)


def runtime_store():
    from chronicle import aws

    return aws.event_store()


def main() -> None:
    started = time.perf_counter()
    runtime = LocalRuntime(root=ROOT, port=0, ephemeral=True)
    t0 = time.perf_counter()
    runtime.start()
    startup = time.perf_counter() - t0
    rows = [("startup (template -> resources -> serving)", f"{startup:.2f} s", "in-process, ephemeral")]
    try:
        create(runtime)  # warm: handler modules import on first use
        rows += workflow_latencies(runtime)

        one = create(runtime)
        t = time.perf_counter()
        for i in range(PER_CLIENT * 2):
            change(runtime, one, i)
        single_rate = PER_CLIENT * 2 / (time.perf_counter() - t)
        rows.append(("commands/s, 1 client", f"{single_rate:.1f}", "ChangeProjectConfiguration"))

        for label, streams in (("4 clients, 4 streams", [create(runtime) for _ in range(CLIENTS)]),
                               ("4 clients, 1 shared stream", [create(runtime)])):
            seconds, ok, failed = run_clients(runtime, streams)
            checks = [gapless(runtime, s) for s in streams]
            stored = sum(n - 1 for _, n in checks)  # minus each stream's ProjectCreated
            rows.append((f"commands/s, {label}", f"{(ok + failed) / seconds:.1f}",
                         f"ratio to 1 client {(ok + failed) / seconds / single_rate:.2f}; {ok} ok, {failed} 409; "
                         f"{stored} stored, gapless: {all(g for g, _ in checks)}"))
    finally:
        runtime.stop(save=False)

    width = max(len(r[0]) for r in rows)
    print(f"Local runtime benchmark (python {sys.version.split()[0]}; one run, {time.perf_counter() - started:.0f} s)")
    print(f"{'measure':<{width}}  {'value':>14}  notes")
    print(f"{'-' * width}  {'-' * 14}  {'-' * 40}")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")


if __name__ == "__main__":
    main()
