"""Personal data benchmark on moto (in-process mock_aws): what reading a user's sealed fields costs.

    make bench                      # or, from the repo root with the venv:
    PYTHONPATH=src python bench/personal_data.py

A 50-event User stream (UserRegistered + 49 UserProfileUpdated, each with a sealed displayName, some with a
sealed email) is read ROUNDS times two ways, interleaved in the same run:
- plain:   EventStore.read (what a reader that does not open personal data pays);
- opened:  the same read, then every event's personal fields opened (chronicle.users.open_event_data): one
           consistent GetItem of the data key per load, the KMS Decrypt served by the per-process key cache.
Printed: the time per load of each, their ratio (target <= 1.5), and KMS calls per load (target: 0 once cached).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                   "POWERTOOLS_METRICS_DISABLED": "true", "EVENT_TABLE": "events", "COMMAND_TABLE": "commands",
                   "SNAPSHOT_TABLE": "snapshots", "KEYS_TABLE": "keys"})
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

ROUNDS, EVENTS = 200, 50


def main() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb")
        for table, keys in {"events": [("aggregateId", "S", "HASH"), ("eventSequence", "N", "RANGE")],
                            "commands": [("commandId", "S", "HASH")], "snapshots": [("aggregateId", "S", "HASH")],
                            "keys": [("pk", "S", "HASH")]}.items():
            ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t, _ in keys],
                             KeySchema=[{"AttributeName": n, "KeyType": k} for n, _, k in keys])
        kms = boto3.client("kms")
        os.environ["PERSONAL_DATA_KEY_ID"] = kms.create_key()["KeyMetadata"]["KeyId"]
        os.environ["EMAIL_MAC_KEY_ID"] = kms.create_key(KeySpec="HMAC_256",
                                                        KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
        from chronicle import aws
        from chronicle.commands import decide_and_append, validate_request
        from chronicle.local import moto_atomic
        from chronicle.users import open_event_data

        moto_atomic.install()  # as the local runtime runs it (and its fast Query)

        def run(command_type: str, body: dict) -> None:
            command = validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": "bench"})
            decide_and_append(command, aws.event_store(), aws.aggregate_loader())

        run("RegisterUser", {"data": {"email": "bench@example.com", "displayName": "Bench 0"}})
        for i in range(1, EVENTS):
            data = {"displayName": f"Bench {i}"}
            if i % 5 == 0:
                data["email"] = f"bench{i}@example.com"
            run("UpdateUserProfile", {"aggregateId": "bench", "data": data})
        store, vault = aws.event_store(), aws.vault()
        assert len(store.read("bench")) == EVENTS

        kms_calls = []
        vault.kms.meta.events.register("before-call.kms", lambda model, **_: kms_calls.append(model.name))

        def plain() -> None:
            store.read("bench")

        def opened() -> None:
            key = vault.data_key("bench")
            events = [open_event_data(vault, "bench", e["eventType"], e["eventData"], key)
                      for e in store.read("bench")]
            assert events[-1]["displayName"] == f"Bench {EVENTS - 1}"

        opened()  # warm: the one KMS Decrypt of this process for this key
        kms_calls.clear()
        times: dict[str, list[float]] = {"plain": [], "opened": []}
        for _ in range(ROUNDS):
            for name, fn in (("plain", plain), ("opened", opened)):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        moto_atomic.uninstall()

    p, o = statistics.median(times["plain"]), statistics.median(times["opened"])
    print(f"personal data: loading a {EVENTS}-event User stream, median of {ROUNDS} interleaved rounds")
    print(f"  plain read                 {p * 1000:8.2f} ms")
    print(f"  read + open every event    {o * 1000:8.2f} ms")
    print(f"  ratio opened / plain       {o / p:8.2f}   (target <= 1.5)")
    print(f"  KMS calls per opened load  {len(kms_calls) / ROUNDS:8.2f}   (data key cache: "
          f"{vault.cache.hits} hits, {vault.cache.misses} misses)")


if __name__ == "__main__":
    main()
