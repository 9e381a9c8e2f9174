"""Each stream's head and sealing point, kept apart from the event table (docs/decisions/0011-...).

A hash chain alone cannot show that its newest events were dropped, that it was rewritten and re-hashed, or that
every hash was stripped (docs/decisions/0008). So each append also records, in the snapshot table under the key
``HEAD_PREFIX + aggregateId`` (aggregate ids start with a letter or digit, so no snapshot has such a key)::

    {"aggregateId": "#head#<id>", "headSequence": N, "headHash": hash of event N, "sealedFrom": S}

`sealedFrom` is the first event that carries a hash (1 for every stream created since the chain). The record is one
conditional PutItem after the append (never moved backwards), so a crash between the two leaves it behind the
stream, never ahead: `verify` reports a stream beyond its record in a note, and a stream short of it, a different
hash at its sequence, or an event without a hash at or after `sealedFrom` as failures. Snapshots carry
`sealedFrom` and `headHash` too, and are checked the same way.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from chronicle.eventstore.chain import GENESIS, ChainReport

log = logging.getLogger(__name__)

HEAD_PREFIX = "#head#"


def head_key(aggregate_id: str) -> dict[str, dict[str, str]]:
    return {"aggregateId": {"S": HEAD_PREFIX + aggregate_id}}


def record_head(client: Any, table: str, aggregate_id: str, sequence: int, head_hash: str,
                sealed_from: int | None) -> None:
    """Record the stream's head after an append (one PutItem; never moves the record backwards). A failure is
    logged, never raised: the events are stored and the command succeeded."""
    item = {**head_key(aggregate_id), "headSequence": {"N": str(sequence)}, "headHash": {"S": head_hash}}
    if sealed_from is not None:
        item["sealedFrom"] = {"N": str(sealed_from)}
    try:
        client.put_item(TableName=table, Item=item,
                        ConditionExpression="attribute_not_exists(aggregateId) OR headSequence < :s",
                        ExpressionAttributeValues={":s": {"N": str(sequence)}})
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":  # else a newer head is there
            log.warning("stream head not recorded", extra={"aggregateId": aggregate_id, "error": str(error)})
    except Exception as error:  # noqa: BLE001 - the events are stored: the record must never fail the command
        log.warning("stream head not recorded", extra={"aggregateId": aggregate_id, "error": repr(error)})


def read_records(client: Any, table: str | None, aggregate_id: str) -> dict[str, dict[str, Any]]:
    """The stream's head record and snapshot, as {"head record": {...}, "snapshot": {...}} (each: sequence, hash,
    sealedFrom or None); absent ones are left out."""
    if not table:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for what, key, seq_name in (("head record", head_key(aggregate_id), "headSequence"),
                                ("snapshot", {"aggregateId": {"S": aggregate_id}}, "version")):
        item = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        if item and seq_name in item and "headHash" in item:
            found[what] = {"sequence": int(item[seq_name]["N"]), "hash": item["headHash"]["S"],
                           "sealedFrom": int(item["sealedFrom"]["N"]) if "sealedFrom" in item else None}
    return found


def expected_hashes(records: dict[str, dict[str, Any]]) -> dict[int, tuple[str, str]]:
    """sequence -> (hash, what recorded it), for chronicle.eventstore.chain.verify_items."""
    return {r["sequence"]: (r["hash"], f"the stream's {what}") for what, r in records.items()
            if r["hash"] != GENESIS}


def judge(report: ChainReport, records: dict[str, dict[str, Any]], heads_read: bool = True) -> None:
    """Hold a verified chain against the records kept apart: the recorded head must be there, and an unsealed
    prefix must end where a record says sealing starts. Sets report.failure, or adds notes. `heads_read`: the
    snapshot table was read (else there is nothing to say about a missing head record)."""
    if not report.ok:
        return
    for what, record in sorted(records.items()):
        if report.head < record["sequence"]:
            report.failure = {"eventSequence": report.head + 1, "source": "table",
                              "reason": f"events {report.head + 1}..{record['sequence']} are missing: the stream's "
                                        f"{what} is at event {record['sequence']} (the head was deleted)"}
            return
    head = records.get("head record")
    if head and report.head > head["sequence"]:
        report.notes.append(f"{report.head - head['sequence']} events after the recorded head "
                            f"{head['sequence']} (an append whose head record was not written)")
    if head is None:
        report.notes.append("no recorded head (the stream was not appended to since heads are recorded)" if heads_read
                            else "head records not checked (give --snapshot-table or set SNAPSHOT_TABLE)")
    if report.unsealed_before:
        sealed_from = [r["sealedFrom"] for r in records.values() if r.get("sealedFrom")]
        if not sealed_from or max(sealed_from) < report.unsealed_before:
            first = max(sealed_from) if sealed_from else 1
            report.failure = {"eventSequence": max(first, 1), "source": "table",
                              "reason": "events without a hash where the stream is recorded as sealed "
                                        f"{'from event ' + str(first) if sealed_from else '(no record of events stored before the chain)'}"
                                        ": hashes were stripped"}
