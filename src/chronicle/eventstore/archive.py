"""Archival of old events to S3 (docs/operations.md), and the read-through that keeps reads complete.

An archived range is one S3 object ``events/<aggregateId>/<first>-<last>.jsonl.gz`` (sequences zero-padded to 12
digits, the id URL-quoted): gzip of JSON Lines, the first line a manifest, then one line per event item exactly as
it was stored in DynamoDB (DynamoDB JSON, binary as base64)::

    {"format": "chronicle-archive/1", "aggregateId", "aggregateType", "firstSequence", "lastSequence", "count",
     "contentSha256": sha256 of the event lines (every byte after the manifest line, uncompressed),
     "chainFrom": hash of event first-1 (or the genesis value), "chainHead": hash of event last, "createdAt"}

The catalog table (pk aggregateId, sk firstSequence) is the stream's archive metadata: one item per archived range
(lastSequence, count, key, versionId, contentSha256, chainHead). One stream's archive step, every part idempotent:

1. finish the last catalogued range: delete what is left of it in the table (an interrupted delete);
2. pick the range: events after the last catalogued one, up to the stream's current snapshot, never the newest
   event, only events older than the cutoff (a stream's timestamps never decrease, so that is a prefix);
   an object an interrupted run already wrote for this first sequence is adopted rather than written again;
3. put the object, read it back, check its digest and that it holds exactly the items read from the table;
4. record it in the catalog (conditional: a concurrent run that got there first wins, this one stops);
5. delete the items, each with the condition that it is still the item that was archived.

Reads (`EventStore.iter_items`) go to the table first and to the archive only for the holes it shows.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from chronicle.eventstore.chain import GENESIS, stored_hash

log = logging.getLogger(__name__)

FORMAT = "chronicle-archive/1"
MAX_EVENTS_PER_OBJECT = 500  # bounds one step's work (deletes are one request each) and one read-through fetch

Item = dict[str, dict[str, Any]]


class ArchiveCorrupt(Exception):
    """An archived object does not match its manifest or its catalog entry."""


# ---- the object format ------------------------------------------------------------------------------------
def item_to_json(item: Item) -> dict[str, Any]:
    return {name: ({"B": base64.b64encode(value["B"]).decode()} if "B" in value else value)
            for name, value in item.items()}


def item_from_json(value: dict[str, Any]) -> Item:
    return {name: ({"B": base64.b64decode(v["B"])} if "B" in v else v) for name, v in value.items()}


def object_key(aggregate_id: str, first: int, last: int | None = None) -> str:
    """The object key of a range; with `last=None`, the prefix every object starting at `first` shares."""
    prefix = f"events/{quote(aggregate_id, safe='')}/{first:012d}-"
    return prefix if last is None else f"{prefix}{last:012d}.jsonl.gz"


def encode(aggregate_id: str, aggregate_type: str, items: list[Item], chain_from: str) -> tuple[bytes, dict]:
    lines = b"".join(json.dumps(item_to_json(i), sort_keys=True, separators=(",", ":"),
                                ensure_ascii=False).encode() + b"\n" for i in items)
    manifest = {"format": FORMAT, "aggregateId": aggregate_id, "aggregateType": aggregate_type,
                "firstSequence": int(items[0]["eventSequence"]["N"]),
                "lastSequence": int(items[-1]["eventSequence"]["N"]), "count": len(items),
                "contentSha256": hashlib.sha256(lines).hexdigest(), "chainFrom": chain_from,
                "chainHead": stored_hash(items[-1]) or GENESIS,
                "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    header = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    # mtime=0: the same range always compresses to the same bytes
    return gzip.compress(header + lines, mtime=0), manifest


def decode(body: bytes) -> tuple[dict[str, Any], list[Item], bool]:
    """(manifest, items, whether the content matches the manifest's digest and count)."""
    raw = gzip.decompress(body)
    header, _, lines = raw.partition(b"\n")
    manifest = json.loads(header)
    if manifest.get("format") != FORMAT:
        raise ArchiveCorrupt(f"not a {FORMAT} object")
    items = [item_from_json(json.loads(line)) for line in lines.splitlines() if line]
    intact = hashlib.sha256(lines).hexdigest() == manifest["contentSha256"] and len(items) == manifest["count"]
    return manifest, items, intact


# ---- reading ----------------------------------------------------------------------------------------------
class ArchiveReader:
    """Archived ranges of streams: the catalog (DynamoDB) and the objects (S3), with a small cache of objects
    (they never change)."""

    def __init__(self, bucket: str, catalog_table: str, s3: Any, dynamodb: Any, cache_objects: int = 16):
        self.bucket, self.catalog_table = bucket, catalog_table
        self.s3, self.dynamodb = s3, dynamodb
        self._cache: OrderedDict[tuple[str, str], tuple[dict, list[Item], bool]] = OrderedDict()
        self._cache_size = cache_objects

    def ranges(self, aggregate_id: str, first: int = 1, last: int = 2**62) -> list[dict[str, Any]]:
        """Catalog entries overlapping first..last, in order (one Query, paginated)."""
        request: dict[str, Any] = {
            "TableName": self.catalog_table, "ConsistentRead": True,
            "KeyConditionExpression": "aggregateId = :id AND firstSequence <= :last",
            "FilterExpression": "lastSequence >= :first",
            "ExpressionAttributeValues": {":id": {"S": aggregate_id}, ":first": {"N": str(first)},
                                          ":last": {"N": str(last)}}}
        found = []
        while True:
            page = self.dynamodb.query(**request)
            found += [_entry(item) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def fetch(self, entry: dict[str, Any]) -> tuple[dict[str, Any], list[Item], bool]:
        """The object of a catalog entry: (manifest, items, intact), where intact also means it matches the entry."""
        cache_key = (entry["key"], entry.get("versionId") or "")
        if cache_key in self._cache:
            self._cache.move_to_end(cache_key)
            return self._cache[cache_key]
        body = self._get(entry)
        manifest, items, intact = decode(body)
        intact = intact and manifest["contentSha256"] == entry["contentSha256"] \
            and (manifest["firstSequence"], manifest["lastSequence"]) == (entry["firstSequence"], entry["lastSequence"])
        self._cache[cache_key] = (manifest, items, intact)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return manifest, items, intact

    def _get(self, entry: dict[str, Any]) -> bytes:
        """The version the catalog names; if that version is gone but the key holds the same content (a copy
        restored elsewhere: the local runtime's saved state re-puts objects, which gives them new version ids),
        the current one. The catalog's contentSha256 pins the content either way (checked by the caller)."""
        if entry.get("versionId"):
            try:
                return self.s3.get_object(Bucket=self.bucket, Key=entry["key"],
                                          VersionId=entry["versionId"])["Body"].read()
            except ClientError as error:
                if _client_code(error) not in ("NoSuchVersion", "InvalidArgument"):
                    raise
                log.warning("archived object version gone, reading the current one",
                            extra={"key": entry["key"], "versionId": entry["versionId"]})
        return self.s3.get_object(Bucket=self.bucket, Key=entry["key"])["Body"].read()

    def read(self, aggregate_id: str, first: int, last: int) -> Iterator[Item]:
        """The archived items of first..last, in order. A damaged object is an error, never silently served."""
        for entry in self.ranges(aggregate_id, first, last):
            _, items, intact = self.fetch(entry)
            if not intact:
                raise ArchiveCorrupt(f"{entry['key']} does not match its manifest or catalog entry "
                                     "(run `chronicle verify` to find the first damaged event)")
            for item in items:
                if first <= int(item["eventSequence"]["N"]) <= last:
                    yield item

    def archived_through(self, aggregate_id: str) -> dict[str, Any] | None:
        """The last catalogued range of a stream (one Query), or None."""
        page = self.dynamodb.query(
            TableName=self.catalog_table, ConsistentRead=True, KeyConditionExpression="aggregateId = :id",
            ExpressionAttributeValues={":id": {"S": aggregate_id}}, ScanIndexForward=False, Limit=1)
        return _entry(page["Items"][0]) if page["Items"] else None


def _entry(item: Item) -> dict[str, Any]:
    return {"aggregateId": item["aggregateId"]["S"], "firstSequence": int(item["firstSequence"]["N"]),
            "lastSequence": int(item["lastSequence"]["N"]), "count": int(item["count"]["N"]),
            "key": item["key"]["S"], "versionId": item.get("versionId", {}).get("S"),
            "contentSha256": item["contentSha256"]["S"], "chainHead": item["chainHead"]["S"],
            "aggregateType": item.get("aggregateType", {}).get("S")}


def cutoff_for(older_than_days: float, now: datetime | None = None) -> str:
    """Events with a timestamp at or before this are old enough (the store's timestamp format)."""
    moment = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ArchiveRefused(Exception):
    """The table holds something other than what was archived: stop before deleting anything more."""


def _client_code(error: ClientError) -> str:
    return error.response["Error"]["Code"]
