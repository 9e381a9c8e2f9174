"""Event store benchmark on moto (in-process mock_aws), printed not asserted; every figure comes from one run.

    make bench                      # or, from the repo root with the venv:
    PYTHONPATH=src python bench/eventstore.py

Measures
- appends/s and loads/s over 100 streams (EventStore.append with a known expected version; AggregateLoader.load);
- the load time of a 10,000-event stream divided by that of a 10-event stream, with snapshots on and off;
- DynamoDB requests per append and per load, counted with botocore's `before-call.dynamodb` event.

Targets (issue 3): that ratio <= 2 with snapshots; one request per append when the expected version is known.

moto's own Query walks every item of the table and sorts the whole partition whatever the key condition, where
DynamoDB seeks in the partition's sorted index and reads only the items it returns. The benchmark runs with
chronicle.local.moto_query (installed by moto_atomic, as in the local runtime), which gives moto's Query that
seek and answers exactly what moto answers (tests/integration/test_moto_query.py); the last row repeats the
snapshot ratio with moto's own Query. The table also shows the time spent inside moto's DynamoDB backend, and the
ratio without it (the Chronicle side: requests, parsing, upcasting, folding).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                   "POWERTOOLS_METRICS_DISABLED": "true"})
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from chronicle.commands import now_iso  # noqa: E402
from chronicle.domain import project  # noqa: E402
from chronicle.eventstore import NO_STREAM, EventStore  # noqa: E402
from chronicle.eventstore.items import to_item  # noqa: E402
from chronicle.eventstore.snapshots import AggregateLoader  # noqa: E402
from chronicle.local import moto_atomic, moto_query  # noqa: E402

PROJECT = project.AGGREGATE
STREAMS, APPENDS_PER_STREAM, LOAD_ROUNDS = 100, 10, 2
LONG, SHORT, REPEAT = 10_000, 10, 20


class Counter:
    """DynamoDB requests (botocore before-call) and the time moto's backend spends answering them."""

    def __init__(self, client):
        self.calls: list[str] = []
        client.meta.events.register("before-call.dynamodb", lambda model, **_: self.calls.append(model.name))
        self.backend_seconds = 0.0
        from moto.dynamodb.responses import DynamoHandler

        original = DynamoHandler.call_action
        counter = self

        def timed(handler, *args, **kwargs):
            start = time.perf_counter()
            try:
                return original(handler, *args, **kwargs)
            finally:
                counter.backend_seconds += time.perf_counter() - start

        DynamoHandler.call_action = timed

    def take(self):
        calls, seconds = self.calls, self.backend_seconds
        self.calls, self.backend_seconds = [], 0.0
        return calls, seconds


def record(event_type, data, timestamp=None):
    command_id = str(uuid.uuid4())
    return {"eventId": str(uuid.uuid4()), "eventType": event_type, "eventData": data, "correlationId": command_id,
            "timestamp": timestamp or now_iso(), "version": "2" if event_type == "ProjectCreated" else "1",
            "metadata": {"aggregateType": "Project", "commandId": command_id, "commandType": "bench",
                         "actorId": "bench", "causationId": command_id, "correlationId": command_id}}


def created():
    return record("ProjectCreated", {"name": "bench", "ownerId": "bench", "visibility": "private"})


def changed(i):
    return record("ProjectConfigurationChanged", {"set": {f"key{i % 20}": i}, "unset": []})


def create_tables(client):
    for name, keys in {"events": [("aggregateId", "S", "HASH"), ("eventSequence", "N", "RANGE")],
                       "commands": [("commandId", "S", "HASH")], "snapshots": [("aggregateId", "S", "HASH")]}.items():
        client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t, _ in keys],
                            KeySchema=[{"AttributeName": n, "KeyType": k} for n, _, k in keys])


def seed(client, stream, count):
    """Write `count` events straight to the table (BatchWriteItem, 25 a request): only for seeding fast."""
    items = [to_item({**(created() if i == 1 else changed(i)), "aggregateId": stream, "eventSequence": i})
             for i in range(1, count + 1)]
    for start in range(0, len(items), 25):
        client.batch_write_item(RequestItems={"events": [{"PutRequest": {"Item": item}}
                                                         for item in items[start:start + 25]]})


def timed_loads(loader, stream, repeat):
    start = time.perf_counter()
    for _ in range(repeat):
        loaded = loader.load(PROJECT, stream)
    return (time.perf_counter() - start) / repeat, loaded  # the mean, like the backend time beside it


def main():
    moto_atomic.install()  # see chronicle.local.moto_atomic: atomic conditions, and transactions without table copies
    started = time.perf_counter()
    rows = []
    with mock_aws():
        client = boto3.client("dynamodb")
        create_tables(client)
        store = EventStore("events", "commands", client=client)
        counter = Counter(client)
        with_snapshots, without = AggregateLoader(store, "snapshots"), AggregateLoader(store, None)

        # ---- appends and loads over 100 streams ----------------------------------------------------------------
        streams = [f"bench-{i}" for i in range(STREAMS)]
        versions, heads = {}, {}  # heads: the hash the next event chains from (a loaded aggregate knows it)
        for stream in streams:
            heads[stream] = store.append(stream, [created()], NO_STREAM)[-1]["hash"]
            versions[stream] = 1
        counter.take()
        start = time.perf_counter()
        for i in range(APPENDS_PER_STREAM):
            for stream in streams:
                heads[stream] = store.append(stream, [changed(i)], versions[stream], previous_hash=heads[stream])[-1]["hash"]
                versions[stream] += 1
        seconds = time.perf_counter() - start
        calls, _ = counter.take()
        appends = STREAMS * APPENDS_PER_STREAM
        rows.append(("appends/s, 1 event, expected version known", f"{appends / seconds:,.0f}",
                     f"{len(calls) / appends:.2f} req/append ({', '.join(sorted(set(calls)))})"))

        start = time.perf_counter()
        for i in range(APPENDS_PER_STREAM):
            for stream in streams:
                heads[stream] = store.append(stream, [changed(i), changed(i + 1)], versions[stream],
                                             previous_hash=heads[stream])[-1]["hash"]
                versions[stream] += 2
        seconds = time.perf_counter() - start
        calls, _ = counter.take()
        rows.append(("appends/s, 2 events (TransactWriteItems)", f"{appends / seconds:,.0f}",
                     f"{len(calls) / appends:.2f} req/append ({', '.join(sorted(set(calls)))})"))

        for label, loader in (("loads/s, 31-event streams, snapshots off", without),
                              ("loads/s, 31-event streams, snapshots on", with_snapshots)):
            for stream in streams:
                loader.load(PROJECT, stream)  # warm: write the snapshot if due
            counter.take()
            start = time.perf_counter()
            for _ in range(LOAD_ROUNDS):
                for stream in streams:
                    loader.load(PROJECT, stream)
            seconds = time.perf_counter() - start
            calls, _ = counter.take()
            loads = STREAMS * LOAD_ROUNDS
            rows.append((label, f"{loads / seconds:,.0f}",
                         f"{len(calls) / loads:.2f} req/load ({', '.join(sorted(set(calls)))})"))

        # ---- a 10,000-event stream against a 10-event one ----------------------------------------------------
        seed(client, "long", LONG)
        seed(client, "short", SHORT)
        with_snapshots.load(PROJECT, "long")  # writes the snapshot at the head (as the append path would have)
        counter.take()
        ratios = []
        for label, loader in (("snapshots off", without), ("snapshots on", with_snapshots)):
            measured = {}
            for stream in ("short", "long"):
                runs = REPEAT if loader is with_snapshots or stream == "short" else 2
                seconds, loaded = timed_loads(loader, stream, runs)
                calls, backend = counter.take()
                measured[stream] = (seconds, backend / runs, len(calls) / runs, loaded.events_read)
            (s_t, s_b, s_r, s_e), (l_t, l_b, l_r, l_e) = measured["short"], measured["long"]
            ratios.append((label, l_t / s_t, max(l_t - l_b, 1e-9) / max(s_t - s_b, 1e-9)))
            rows.append((f"load {LONG:,} events, {label}", f"{l_t * 1000:,.1f} ms",
                         f"{l_r:.0f} req/load, {l_e} events read, {l_b * 1000:,.1f} ms in moto"))
            rows.append((f"load {SHORT} events, {label}", f"{s_t * 1000:,.1f} ms",
                         f"{s_r:.0f} req/load, {s_e} events read, {s_b * 1000:,.1f} ms in moto"))
        for label, ratio, chronicle_ratio in ratios:
            rows.append((f"ratio {LONG:,}/{SHORT} events, {label}", f"{ratio:,.2f}",
                         f"{chronicle_ratio:,.2f} without moto's backend time"))

        # ---- the same with moto's own Query (it walks the whole table and sorts the partition) ----------------
        moto_query.uninstall()
        try:
            measured = {stream: timed_loads(with_snapshots, stream, REPEAT)[0] for stream in ("short", "long")}
        finally:
            moto_query.install()
        rows.append((f"ratio {LONG:,}/{SHORT} events, snapshots on, moto's own Query",
                     f"{measured['long'] / measured['short']:,.2f}",
                     f"{measured['long'] * 1000:,.1f} / {measured['short'] * 1000:,.1f} ms"))

    width = max(len(r[0]) for r in rows)
    print(f"Event store benchmark (moto {__import__('moto').__version__}, in-process mock_aws, "
          f"python {sys.version.split()[0]}; one run, {time.perf_counter() - started:.0f} s)")
    print(f"{'measure':<{width}}  {'value':>12}  notes")
    print(f"{'-' * width}  {'-' * 12}  {'-' * 40}")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>12}  {note}")
    print("targets: ratio <= 2 with snapshots; 1 request per append when the expected version is known")


if __name__ == "__main__":
    main()
