"""Local state that survives a restart: DynamoDB items and S3 objects, in ``--state-dir`` (default ``.chronicle``).

Layout::

    <state-dir>/dynamodb/<table>.json        {"table": name, "items": [<DynamoDB JSON item>, ...]}
    <state-dir>/s3/<bucket>/index.json       {"<key>": {"file": ..., "etag": ..., "contentType": ...}}
    <state-dir>/s3/<bucket>/<quoted key>     the object's bytes

Every file is written atomically (temp file + ``os.replace``). :class:`StatePersister` saves on
:meth:`~StatePersister.stop` (Ctrl-C, SIGTERM) and every ``interval`` seconds when the emulator saw a write
(``Emulator.dirty``), so a ``kill -9`` loses at most that interval. :meth:`~StatePersister.load` runs after the
stack is created from the template and before anything is served.

Not kept: Step Functions executions and their history, EventBridge events in flight, SQS messages, logs.
The dump reads each table with Scan while the runtime may be writing, so one snapshot is not a transaction
across tables; projections repair from the event store.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import urllib.parse
from pathlib import Path
from typing import Any
from collections.abc import Callable

log = logging.getLogger("chronicle.local.persistence")


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class StatePersister:
    def __init__(self, state_dir: str | Path, tables: list[str], buckets: list[str], session: Any,
                 is_dirty: Callable[[], bool] = lambda: True, clear_dirty: Callable[[], None] = lambda: None,
                 interval: float = 2.0) -> None:
        self.state_dir = Path(state_dir)
        self.tables = tables
        self.buckets = buckets
        self.dynamodb = session.client("dynamodb")
        self.s3 = session.client("s3")
        self.is_dirty = is_dirty
        self.clear_dirty = clear_dirty
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- save ------------------------------------------------------------------------------------------
    def save(self) -> None:
        with self._lock:
            self.clear_dirty()  # before reading: a write during the dump marks the next round dirty
            for table in self.tables:
                self._save_table(table)
            for bucket in self.buckets:
                self._save_bucket(bucket)

    def _save_table(self, table: str) -> None:
        items: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(page["Items"])
        data = json.dumps({"table": table, "items": items}, separators=(",", ":")).encode()
        atomic_write(self.state_dir / "dynamodb" / f"{table}.json", data)

    def _save_bucket(self, bucket: str) -> None:
        folder = self.state_dir / "s3" / bucket
        index_path = folder / "index.json"
        old = json.loads(index_path.read_text()) if index_path.exists() else {}
        new: dict[str, Any] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                key, etag = obj["Key"], obj["ETag"]
                file = urllib.parse.quote(key, safe="")
                if old.get(key, {}).get("etag") == etag and (folder / file).exists():
                    new[key] = old[key]
                    continue
                got = self.s3.get_object(Bucket=bucket, Key=key)
                atomic_write(folder / file, got["Body"].read())
                new[key] = {"file": file, "etag": etag, "contentType": got.get("ContentType")}
        atomic_write(index_path, json.dumps(new, indent=1).encode())
        for key, entry in old.items():
            if key not in new:
                try:
                    (folder / entry["file"]).unlink()
                except OSError:
                    pass

    # -- load ------------------------------------------------------------------------------------------
    def load(self) -> dict[str, int]:
        """Put the saved items/objects back into the (freshly created) tables and buckets."""
        counts: dict[str, int] = {}
        for table in self.tables:
            path = self.state_dir / "dynamodb" / f"{table}.json"
            if not path.exists():
                continue
            items = json.loads(path.read_text())["items"]
            for i in range(0, len(items), 25):
                batch = [{"PutRequest": {"Item": item}} for item in items[i:i + 25]]
                request = {table: batch}
                while request:
                    request = self.dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            counts[table] = len(items)
        for bucket in self.buckets:
            folder = self.state_dir / "s3" / bucket
            index_path = folder / "index.json"
            if not index_path.exists():
                continue
            index = json.loads(index_path.read_text())
            for key, entry in index.items():
                extra = {"ContentType": entry["contentType"]} if entry.get("contentType") else {}
                self.s3.put_object(Bucket=bucket, Key=key, Body=(folder / entry["file"]).read_bytes(), **extra)
            counts[bucket] = len(index)
        skipped = sorted(p.stem for p in (self.state_dir / "dynamodb").glob("*.json") if p.stem not in self.tables) \
            if (self.state_dir / "dynamodb").exists() else []
        if skipped:
            log.warning("state dir has tables the template no longer declares (kept on disk, not loaded): %s", skipped)
        self.clear_dirty()
        return counts

    # -- periodic --------------------------------------------------------------------------------------
    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="chronicle-persist", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.is_dirty():
                try:
                    self.save()
                except Exception:  # noqa: BLE001 - keep trying next round
                    log.exception("saving local state failed")

    def stop(self, save: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if save:
            self.save()
