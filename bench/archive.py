"""Archive benchmark on moto (in-process mock_aws), printed not asserted; every figure comes from one run.

    make bench                      # or, from the repo root with the venv:
    PYTHONPATH=src python bench/archive.py

A 1,000-event stream with a snapshot at its head, measured before and after archiving events 1..999 (2 objects
of at most 500 events):
- a load from the snapshot (the command path): requests to DynamoDB and S3 before and after (target: the same 2
  DynamoDB requests, no S3 request);
- a whole-history read (GraphQL history): requests and time after archiving, as a ratio to the same read from the
  table before, with a cold object cache (every object fetched and decompressed) and a warm one;
- the archive run itself: events archived per second (each deleted with one conditional DeleteItem).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                   "POWERTOOLS_METRICS_DISABLED": "true"})
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from chronicle.domain import project  # noqa: E402
from chronicle.eventstore import EventStore  # noqa: E402
from chronicle.eventstore.archive import ArchiveReader, cutoff_for  # noqa: E402
from chronicle.eventstore.archiver import Archiver  # noqa: E402
from chronicle.eventstore.chain import GENESIS, seal  # noqa: E402
from chronicle.eventstore.items import to_item  # noqa: E402
from chronicle.eventstore.snapshots import AggregateLoader  # noqa: E402
from chronicle.local import moto_atomic  # noqa: E402
from eventstore import changed, create_tables, created  # noqa: E402 - bench/eventstore.py

PROJECT = project.AGGREGATE
EVENTS, REPEAT = 1_000, 3


class Requests:
    def __init__(self, *clients):
        self.calls: list[str] = []
        for client in clients:
            prefix = client.meta.service_model.endpoint_prefix
            client.meta.events.register(f"before-call.{prefix}",
                                        lambda model, _p=prefix, **_: self.calls.append(f"{_p}:{model.name}"))

    def take(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls


def describe(calls: list[str]) -> str:
    counts: dict[str, int] = {}
    for call in calls:
        counts[call] = counts.get(call, 0) + 1
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))


def main():
    moto_atomic.install()
    started = time.perf_counter()
    rows = []
    with mock_aws():
        dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
        create_tables(dynamodb)
        dynamodb.create_table(TableName="catalog", BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "aggregateId", "AttributeType": "S"},
                                                    {"AttributeName": "firstSequence", "AttributeType": "N"}],
                              KeySchema=[{"AttributeName": "aggregateId", "KeyType": "HASH"},
                                         {"AttributeName": "firstSequence", "KeyType": "RANGE"}])
        s3.create_bucket(Bucket="archive")
        s3.put_bucket_versioning(Bucket="archive", VersioningConfiguration={"Status": "Enabled"})
        reader = ArchiveReader("archive", "catalog", s3, dynamodb)
        store = EventStore("events", "commands", client=dynamodb, archive=reader)
        loader = AggregateLoader(store, "snapshots")
        requests = Requests(dynamodb, s3)

        items = [to_item({**(created() if i == 1 else changed(i)), "aggregateId": "long", "eventSequence": i})
                 for i in range(1, EVENTS + 1)]
        seal(items, GENESIS)
        for start in range(0, len(items), 25):  # seeding only: straight to the table
            dynamodb.batch_write_item(RequestItems={"events": [{"PutRequest": {"Item": item}}
                                                               for item in items[start:start + 25]]})
        loader.load(PROJECT, "long")  # writes the snapshot at the head
        requests.take()

        def measure(fn, repeat=REPEAT, cold=False):
            calls = []
            start = time.perf_counter()
            for _ in range(repeat):
                if cold:
                    reader._cache.clear()
                result = fn()
                calls = requests.take()
            return (time.perf_counter() - start) / repeat, calls, result

        load_before = measure(lambda: loader.load(PROJECT, "long").state)
        history_before = measure(lambda: store.read("long"))

        start = time.perf_counter()
        archiver, cutoff, archived = Archiver(store, reader, "snapshots"), cutoff_for(0), 0
        while True:
            outcome = archiver.archive_stream("long", cutoff)
            archived += outcome["archived"]
            if not outcome["more"]:
                break
        archive_seconds = time.perf_counter() - start
        archive_calls = requests.take()

        load_after = measure(lambda: loader.load(PROJECT, "long").state)
        history_cold = measure(lambda: store.read("long"), cold=True)
        history_warm = measure(lambda: store.read("long"))
        assert load_after[2] == load_before[2] and history_cold[2] == history_before[2] == history_warm[2]

        rows.append(("load from the snapshot, before archiving", f"{load_before[0] * 1000:,.1f} ms",
                     describe(load_before[1])))
        rows.append(("load from the snapshot, after archiving", f"{load_after[0] * 1000:,.1f} ms",
                     describe(load_after[1])))
        rows.append((f"history of {EVENTS:,} events from the table", f"{history_before[0] * 1000:,.1f} ms",
                     describe(history_before[1])))
        rows.append((f"history, {archived:,} archived, cold object cache", f"{history_cold[0] * 1000:,.1f} ms",
                     describe(history_cold[1])))
        rows.append((f"history, {archived:,} archived, warm object cache", f"{history_warm[0] * 1000:,.1f} ms",
                     describe(history_warm[1])))
        rows.append(("ratio history through S3 / from the table, cold", f"{history_cold[0] / history_before[0]:,.2f}",
                     f"{len(history_cold[1])} / {len(history_before[1])} requests"))
        rows.append(("ratio history through S3 / from the table, warm", f"{history_warm[0] / history_before[0]:,.2f}",
                     f"{len(history_warm[1])} / {len(history_before[1])} requests"))
        rows.append(("archive run, events/s", f"{archived / archive_seconds:,.0f}",
                     f"{archived:,} events in {archive_seconds:.1f} s: {describe(archive_calls)}"))

    width = max(len(r[0]) for r in rows)
    print(f"Archive benchmark (moto {__import__('moto').__version__}, in-process mock_aws, "
          f"python {sys.version.split()[0]}; one run, {time.perf_counter() - started:.0f} s)")
    print(f"{'measure':<{width}}  {'value':>12}  notes")
    print(f"{'-' * width}  {'-' * 12}  {'-' * 40}")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>12}  {note}")
    print("target: a load from a snapshot costs the same 2 requests after archiving, and no S3 request")


if __name__ == "__main__":
    main()
