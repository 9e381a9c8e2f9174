"""A load client for `chronicle local`, run as its own process so that its CPU is not the runtime's (a client of
`make local` is another program): `clients` threads, client c sends `per_client` ChangeProjectConfiguration
commands, one after the other, to streams[c % len(streams)], each on a new connection. Prints one JSON object:
the rate (commands answered per second), the statuses, connection errors and the sorted latencies.

    python bench/http_load.py URL --streams ID [ID ...] [--clients 1] [--per-client 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request


def change(url: str, project_id: str, i: int) -> int:
    body = json.dumps({"aggregateId": project_id, "data": {"set": {f"k{i % 7}": i}}}).encode()
    request = urllib.request.Request(f"{url}/commands/ChangeProjectConfiguration", data=body, method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


def run(url: str, streams: list[str], clients: int, per_client: int) -> dict:
    statuses: list[int] = []
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        for i in range(per_client):
            t = time.perf_counter()
            try:
                status = change(url, streams[c % len(streams)], c * 1000 + i)
            except OSError as exc:  # refused / reset: what a too-small backlog did
                with lock:
                    errors.append(type(exc).__name__)
                continue
            with lock:
                statuses.append(status)
                latencies.append(time.perf_counter() - t)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    return {"rate": len(statuses) / seconds, "ok": statuses.count(200), "other": len(statuses) - statuses.count(200),
            "errors": errors, "latencies": sorted(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--streams", nargs="+", required=True)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--per-client", type=int, default=20)
    args = parser.parse_args()
    json.dump(run(args.url.rstrip("/"), args.streams, args.clients, args.per_client), sys.stdout)


if __name__ == "__main__":
    main()
