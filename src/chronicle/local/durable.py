"""Acknowledged means durable: the local runtime's DynamoDB items and S3 objects, journaled before answers leave.

Layout of ``--state-dir`` (format 3, ``format.json``)::

    LOCK                    flock'ed by the running process; {"pid", "port", ...} (statedir.py)
    format.json             {"format": 3}
    snapshot.json           the last checkpoint: a checksummed header line {"format", "journal": N, "seq", "kms",
                            "bytes", "sha256"}, then {"published", "s3", "tables"} (snapshot.py)
    journal/<N>.log         changes since that checkpoint, numbered and checksummed records (journal.py), replayed
                            on start in order
    blobs/<sha256>          S3 object bytes, content-addressed (the snapshot and the journal refer to them)
    kms.json                the KMS keys (kms_keys.py); the snapshot holds a digest of each

Before anything is loaded, ``snapshot.check_state`` refuses a damaged or incomplete directory
(``chronicle state repair``, repair.py, keeps what is intact). A failed journal write or sync fails the journal for
good (:attr:`DurableState.failure`): the runtime then refuses requests and a stop saves nothing. A deletion from a
``scrub_tables`` table (an erased user's data key) makes the next sync a checkpoint, so the answer leaves only once
no journal segment holds the deleted item any more.

How a change gets there: every write to moto's DynamoDB backend (PutItem, UpdateItem, DeleteItem,
TransactWriteItems, the PartiQL writes; BatchWriteItem is a series of PutItem/DeleteItem) and every S3 PutObject /
DeleteObject on the template's tables and buckets is wrapped: under the emulator's one DynamoDB lock
(``moto_atomic.LOCK``) the operation runs, then the resulting items of every key it touched (or ``null`` for a
deleted one) are appended to the journal as one record. A transaction is one record, so a replay never holds a
command record without its events; records are in the order the changes were applied, so any prefix of the
journal is a state that existed (a read model is never ahead of its store). :meth:`DurableState.sync` fsyncs the
journal (group commit); the command API and the emulator's own endpoint call it before they answer.

A checkpoint (on start, on clean stop, and when the current segment passes ``compact_bytes``) captures every table
and bucket under the same lock, starts a new journal segment at that very point, writes ``snapshot.json``
atomically, then deletes the older segments.

Sections: other parts of the local state (the execution trail, the dead-letter queues) register with
:meth:`DurableState.add_section` a record key, a capture and a restore: their journal records are ``{key: value}``
(appended by their owner through :attr:`journal`), replayed through ``apply``, and each checkpoint keeps
``capture()`` under ``"sections"`` in the snapshot.

Besides the state, the journal keeps *published marks*: for each stream, the highest event sequence the local bus
has delivered to every target, contiguously. On start :meth:`DurableState.lagging_streams` compares them with the
event store, and the runtime publishes again what a crash left undelivered.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import inspect
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from . import moto_atomic, moto_patches
from .account import ACCOUNT_ID, REGION
from . import snapshot as snapshots
from .journal import Journal, JournalFailed, StateCorrupt, fsync_dir, read_segments, segments
from .statedir import StateDir, atomic_write

log = logging.getLogger("chronicle.local.durable")

_local = threading.local()  # depth of wrapped calls on this thread: only the outermost one journals


def _plain(value: Any) -> Any:
    """JSON for what moto's Item.to_json leaves inside (DynamoType objects, bytes)."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=_plain).encode()


class DurableState:
    def __init__(self, state_dir: StateDir, tables: list[str], buckets: list[str], event_table: str | None = None,
                 compact_bytes: int = 16 * 1024 * 1024, flush_interval: float = 0.5,
                 scrub_tables: list[str] | tuple[str, ...] = ()) -> None:
        self.dir = state_dir
        self.path = state_dir.path
        self.tables = set(tables)
        self.buckets = set(buckets)
        self.event_table = event_table
        self.compact_bytes = compact_bytes
        self.flush_interval = flush_interval
        self.journal: Journal | None = None
        self.published: dict[str, int] = {}  # stream -> highest sequence delivered to every target, contiguously
        self._pending: dict[str, set[int]] = {}  # delivered out of order, waiting for the gap below them
        self._marks_lock = threading.Lock()
        self._retired_tables: dict[str, Any] = {}  # in the snapshot, no longer in the template: kept, not loaded
        self._patches: list[tuple[type, str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checkpoint_lock = threading.Lock()
        self.checkpoints = 0
        self._from_v1 = False
        self._next_seq = 1  # the number of the first journal record after the start checkpoint
        self.scrub_tables = set(scrub_tables)  # deletions here must leave no copy on disk before they are answered
        self._scrubs = 0  # deletions from scrub_tables so far
        self._scrubbed = 0  # of those, how many a completed checkpoint has removed from the disk
        self.replayed = 0  # journal records applied on top of the snapshot at load
        self.sections: dict[str, tuple[str, Callable[[], Any], Callable[[Any], None], Callable[[Any], None]]] = {}

    def add_section(self, name: str, key: str, capture: Callable[[], Any], restore: Callable[[Any], None],
                    apply: Callable[[Any], None]) -> None:
        """Keep another part of the state: ``capture()`` goes into each snapshot and ``restore`` takes it back at
        load; journal records ``{key: value}`` (appended by the owner) are replayed with ``apply(value)``."""
        self.sections[name] = (key, capture, restore, apply)

    # -- backends ---------------------------------------------------------------------------------------
    @staticmethod
    def _dynamodb() -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[ACCOUNT_ID][REGION]

    @staticmethod
    def _s3() -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[ACCOUNT_ID]["aws"]

    # -- load -------------------------------------------------------------------------------------------
    def load(self, snapshot: Any = None) -> dict[str, int]:
        """Put the last checkpoint and the journal after it into the (freshly created) tables and buckets.
        ``snapshot`` is what :func:`snapshot.check_state_dir` returned (it checked every file first)."""
        if snapshot is None:
            snapshot = snapshots.check_state(self.dir)
        first_segment, legacy = 0, False
        if self.dir.format() == 1:
            self._load_v1()
            self._from_v1 = True
        elif snapshot is not None:
            first_segment, legacy = snapshot.journal, snapshot.format == 2
            self._next_seq = snapshot.seq or 1
            for table, items in snapshot.body["tables"].items():
                if table in self.tables:
                    self._replace_table(table, items)
                else:
                    self._retired_tables[table] = items
            for bucket, objects in snapshot.body.get("s3", {}).items():
                for key, entry in objects.items():
                    self._put_object(bucket, key, entry["blob"], entry.get("metadata") or {}, entry.get("versionId"))
            self.published = {k: int(v) for k, v in snapshot.body.get("published", {}).items()}
            for name, content in snapshot.body.get("sections", {}).items():
                if name in self.sections:
                    self.sections[name][2](content)
        replayed = 0
        for record in read_segments(self.path / "journal", first_segment, repair=True, legacy=legacy,
                                    first_seq=None if snapshot is None else snapshot.seq):
            self._apply(record)
            replayed += 1
        if not legacy:
            self._next_seq += replayed
        if self._retired_tables:
            log.warning("state dir has tables the template no longer declares (kept, not loaded): %s",
                        sorted(self._retired_tables))
        counts = {table: len(self._dynamodb().get_table(table).all_items()) for table in sorted(self.tables)
                  if table in self._dynamodb().tables}
        self.replayed = replayed
        return {k: v for k, v in counts.items() if v}

    def _load_v1(self) -> None:
        """Format 1 (saved every 2 s, table by table): load it once; the start checkpoint writes format 2."""
        for table in self.tables:
            path = self.path / "dynamodb" / f"{table}.json"
            if path.exists():
                self._replace_table(table, json.loads(path.read_bytes())["items"])
        for bucket in self.buckets:
            index_path = self.path / "s3" / bucket / "index.json"
            if not index_path.exists():
                continue
            for key, entry in json.loads(index_path.read_text()).items():
                data = (index_path.parent / entry["file"]).read_bytes()
                blob = self._write_blob(data)
                metadata = {"Content-Type": entry["contentType"]} if entry.get("contentType") else {}
                self._put_object(bucket, key, blob, metadata)
        # Format 1 kept no published marks: take what it saved as published (its projections ran at the time).
        self.published = self._heads()

    def _replace_table(self, table: str, items: list[dict[str, Any]]) -> None:
        backend = self._dynamodb()
        if table not in backend.tables:
            return
        model = backend.get_table(table)
        for item in list(model.all_items()):
            backend.delete_item(table, self._key_of(model, item.to_json()["Attributes"]))
        for item in items:
            backend.put_item(table, item)

    def _apply(self, record: dict[str, Any]) -> None:
        backend = self._dynamodb()
        if "d" in record:
            for table, key, image in record["d"]:
                if table not in self.tables or table not in backend.tables:
                    continue
                if image is None:
                    backend.delete_item(table, key)
                else:
                    backend.put_item(table, image)
        elif "t" in record:
            for table, items in record["t"].items():
                if table in self.tables:
                    self._replace_table(table, items)
        elif "s3" in record:
            bucket, key, blob, metadata, *version = record["s3"]  # the version id: records since issue 20
            if blob is None:
                if bucket in self.buckets:
                    self._s3().delete_object(bucket, key)
            else:
                self._put_object(bucket, key, blob, metadata or {}, version[0] if version else None)
        elif "m" in record:
            stream, sequence = record["m"]
            self.published[stream] = max(self.published.get(stream, 0), int(sequence))
        else:
            for key, _capture, _restore, apply in self.sections.values():
                if key in record:
                    apply(record[key])

    def _put_object(self, bucket: str, key: str, blob: str, metadata: dict[str, str],
                    version_id: str | None = None) -> None:
        if bucket not in self.buckets:
            return
        path = self.path / "blobs" / blob
        try:
            data = path.read_bytes()
        except OSError as error:
            raise StateCorrupt(f"{path} (object s3://{bucket}/{key}) cannot be read: {error.strerror}") from None
        if hashlib.sha256(data).hexdigest() != blob:
            raise StateCorrupt(f"{path} (object s3://{bucket}/{key}) is damaged: its bytes fail their checksum")
        obj = self._s3().put_object(bucket, key, data)
        if metadata:
            obj.set_metadata(dict(metadata))
        if version_id and version_id != "null" and obj.version_id != "null":
            # the version id it had: a catalog that pinned it (the archive) still finds it after a restart
            obj._version_id = version_id

    def _write_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.path / "blobs" / digest
        if not path.exists():
            atomic_write(path, data)
        return digest

    @staticmethod
    def _key_of(table: Any, item: dict[str, Any]) -> dict[str, Any]:
        key = {table.hash_key_attr: item[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = item[table.range_key_attr]
        return key

    def _heads(self) -> dict[str, int]:
        """Each stream's highest stored event sequence."""
        heads: dict[str, int] = {}
        backend = self._dynamodb()
        if not self.event_table or self.event_table not in backend.tables:
            return heads
        with moto_atomic.LOCK:
            for item in backend.get_table(self.event_table).all_items():
                stream = item.attrs["aggregateId"].value
                sequence = int(item.attrs["eventSequence"].value)
                if sequence > heads.get(stream, 0):
                    heads[stream] = sequence
        return heads

    def lagging_streams(self) -> list[dict[str, Any]]:
        """Streams whose stored head is ahead of what the bus delivered: ``{"aggregateId", "fromSequence",
        "toSequence"}``, as PublishEvents takes them."""
        with self._marks_lock:
            published = dict(self.published)
        return [{"aggregateId": stream, "fromSequence": published.get(stream, 0) + 1, "toSequence": head}
                for stream, head in sorted(self._heads().items()) if head > published.get(stream, 0)]

    # -- published marks --------------------------------------------------------------------------------
    def mark_published(self, stream: str, sequence: int) -> None:
        """The bus delivered event ``sequence`` of ``stream`` to every target."""
        with self._marks_lock:
            current = self.published.get(stream, 0)
            if sequence <= current:
                return
            if sequence != current + 1:
                self._pending.setdefault(stream, set()).add(sequence)
                return
            pending = self._pending.get(stream, set())
            while current + 1 in pending or current + 1 == sequence:
                current += 1
                pending.discard(current)
            if not pending:
                self._pending.pop(stream, None)
            self.published[stream] = current
            if self.journal is not None:
                self.journal.append({"m": [stream, current]})

    # -- journaling hooks -------------------------------------------------------------------------------
    def install(self) -> None:
        """Journal every change to the persisted tables and buckets from now on."""
        from moto.dynamodb.models import DynamoDBBackend
        from moto.s3.models import S3Backend

        dynamodb_keys: dict[str, Callable[[Any, dict[str, Any]], list[tuple[str, dict[str, Any]]] | None]] = {
            "put_item": lambda b, a: [(a["table_name"], self._key_of(b.get_table(a["table_name"]), a["item_attrs"]))],
            "update_item": lambda b, a: [(a["table_name"], a["key"])],
            "delete_item": lambda b, a: [(a["table_name"], a["key"])],
            "transact_write_items": self._transaction_keys,
            # PartiQL does not say which keys it touches: journal the whole of every persisted table.
            "execute_statement": lambda b, a: None,
            "execute_transaction": lambda b, a: None,
            "batch_execute_statement": lambda b, a: None,
        }
        for name, keys_of in dynamodb_keys.items():
            self._patch(DynamoDBBackend, name, self._journaled_dynamodb(getattr(DynamoDBBackend, name), keys_of))
        self._patch(S3Backend, "put_object", self._journaled_s3(S3Backend.put_object))
        self._patch(S3Backend, "delete_object", self._journaled_s3(S3Backend.delete_object))

    def uninstall(self) -> None:
        for cls, name, original in reversed(self._patches):
            setattr(cls, name, original)
        self._patches.clear()

    def _patch(self, cls: type, name: str, wrapper: Any) -> None:
        moto_patches.original(f"{cls.__module__}:{cls.__qualname__}.{name}")  # registered, parameters checked
        self._patches.append((cls, name, cls.__dict__.get(name, getattr(cls, name))))
        setattr(cls, name, wrapper)

    def _transaction_keys(self, backend: Any, args: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        keys = []
        for item in args["transact_items"]:
            for op_type, op in item.items():
                if op_type == "Put":
                    keys.append((op["TableName"], self._key_of(backend.get_table(op["TableName"]), op["Item"])))
                elif op_type in ("Update", "Delete"):
                    keys.append((op["TableName"], op["Key"]))
        return keys

    def _journaled_dynamodb(self, original: Callable[..., Any],
                            keys_of: Callable[[Any, dict[str, Any]], Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)
        state = self

        @functools.wraps(original)
        def wrapper(backend: Any, *args: Any, **kwargs: Any) -> Any:
            if getattr(_local, "depth", 0) or backend.account_id != ACCOUNT_ID or backend.region_name != REGION:
                return original(backend, *args, **kwargs)
            with moto_atomic.LOCK:
                _local.depth = 1
                try:
                    return original(backend, *args, **kwargs)
                finally:
                    _local.depth = 0
                    state._record_dynamodb(backend, keys_of, signature, args, kwargs)

        return wrapper

    def _record_dynamodb(self, backend: Any, keys_of: Callable[..., Any], signature: inspect.Signature,
                         args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            keys = keys_of(backend, signature.bind(backend, *args, **kwargs).arguments)
        except Exception:  # noqa: BLE001 - arguments the operation itself refused: it changed nothing
            return
        journal = self.journal
        if journal is None:
            return
        if keys is None:
            journal.append({"t": {t: [i.to_json()["Attributes"] for i in backend.get_table(t).all_items()]
                                  for t in sorted(self.tables) if t in backend.tables}}, dumps=_dumps)
            return
        effects = []
        for table, key in keys:
            if table not in self.tables:
                continue
            try:
                item = backend.get_item(table, key)
            except Exception:  # noqa: BLE001 - a key the operation refused: nothing was written there
                continue
            effects.append([table, key, item.to_json()["Attributes"] if item is not None else None])
            if item is None and table in self.scrub_tables:
                self._scrubs += 1  # under moto_atomic.LOCK, as the checkpoint's capture
        if effects:
            journal.append({"d": effects}, dumps=_dumps)

    def _journaled_s3(self, original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)
        state = self

        @functools.wraps(original)
        def wrapper(backend: Any, *args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(backend, *args, **kwargs).arguments
            bucket, key = bound.get("bucket_name"), bound.get("key_name")
            if bucket not in state.buckets or backend.account_id != ACCOUNT_ID:
                return original(backend, *args, **kwargs)
            with moto_atomic.LOCK:
                try:
                    return original(backend, *args, **kwargs)
                finally:
                    state._record_s3(backend, bucket, key)

        return wrapper

    def _record_s3(self, backend: Any, bucket: str, key: str) -> None:
        if self.journal is None:
            return
        try:
            obj = backend.get_object(bucket, key)
        except Exception:  # noqa: BLE001 - no such object (deleted)
            obj = None
        if obj is None:
            self.journal.append({"s3": [bucket, key, None, None]})
            return
        try:
            blob = self._write_blob(obj.value)  # the bytes are on disk before the record that names them
        except OSError as error:
            raise self.journal.fail(error) from error
        self.journal.append({"s3": [bucket, key, blob, dict(obj.metadata or {}), obj.version_id]})

    # -- sync, checkpoint --------------------------------------------------------------------------------
    @property
    def failure(self) -> JournalFailed | None:
        """The failed write or sync that stopped the journal, if any (the runtime then refuses requests)."""
        return self.journal.failure if self.journal is not None else None

    def sync(self) -> None:
        """Return once every change made so far is on disk (raises JournalClosed once the runtime stopped,
        JournalFailed once a write or sync failed). After a deletion from a scrubbed table (an erased user's data
        key) it checkpoints first, so that no journal segment on disk still holds what was deleted."""
        journal = self.journal
        if journal is None:
            return
        if self._scrubs != self._scrubbed:
            self.checkpoint(scrub=True)
        journal.sync()

    def checkpoint(self, scrub: bool = False) -> None:
        """Capture everything at one point, start a new journal segment there, write the snapshot. ``scrub``: only
        if a deletion from a scrubbed table is still on disk (another checkpoint may have finished meanwhile)."""
        with self._checkpoint_lock:
            if self.failure is not None:
                raise self.failure  # memory may hold changes the journal refused: never save those
            if scrub and self._scrubs == self._scrubbed:
                return
            try:
                self._checkpoint()
            except OSError as error:
                if self.journal is None:
                    raise
                raise self.journal.fail(error) from error

    def _checkpoint(self) -> None:
        backend, s3 = self._dynamodb(), self._s3()
        with moto_atomic.LOCK, self._marks_lock:
            scrubs = self._scrubs
            tables = _dumps({t: [i.to_json()["Attributes"] for i in backend.get_table(t).all_items()]
                             for t in sorted(self.tables) if t in backend.tables} | self._retired_tables)
            objects: dict[str, dict[str, Any]] = {}
            for bucket in sorted(self.buckets):
                if bucket in s3.buckets:
                    objects[bucket] = {key: (obj.value, dict(obj.metadata or {}), obj.version_id)
                                       for key, obj in s3.get_bucket(bucket).keys.items()}
            published = dict(self.published)
            sections = _dumps({name: section[1]() for name, section in sorted(self.sections.items())})
            if self.journal is None:
                self.journal = Journal(self.path / "journal", max(segments(self.path / "journal"), default=0) + 1,
                                       next_seq=self._next_seq)
            else:
                self.journal.rotate()
            segment, first_seq = self.journal.number, self.journal.first_seq
        s3_index = {bucket: {key: {"blob": self._write_blob(data), "metadata": metadata, "versionId": version}
                             for key, (data, metadata, version) in keys.items()} for bucket, keys in objects.items()}
        body = (b'{"published":%s,"s3":%s,"sections":%s,"tables":%s}'
                % (_dumps(published), _dumps(s3_index), sections, tables))
        kms = snapshots.key_digests(snapshots.read_keys(self.path / "kms.json"))
        atomic_write(self.path / "snapshot.json", snapshots.encode(segment, first_seq, kms, body))
        self.dir.write_format()
        self.journal.remove_before(segment)
        self._scrubbed = scrubs  # the segments that held what was deleted are gone
        self.checkpoints += 1

    def start(self) -> None:
        """After load: checkpoint (compacts what was replayed), journal from here on, flush in the background."""
        self.checkpoint()
        if self._from_v1:
            self._remove_v1()
        self._gc_blobs()
        self.install()
        self._thread = threading.Thread(target=self._run, name="chronicle-journal", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                self.sync()  # what no answer waited for (projections, published marks)
                if self.journal is not None and self.journal.size > self.compact_bytes:
                    self.checkpoint()
            except JournalFailed:
                return  # the runtime reports it (/health, 507); retrying cannot make the lost writes durable
            except Exception:  # noqa: BLE001 - keep trying; a stop closes the journal under us
                if not self._stop.is_set():
                    log.exception("journal flush/checkpoint failed")

    def close(self, checkpoint: bool = True) -> None:
        """The last durable point: sync (and checkpoint), then refuse further syncs."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            if self.failure is not None:
                log.error("%s: not saving the state on stop (what the journal refused must not be saved)",
                          self.failure)
            elif self.journal is not None:
                self.journal.sync()
                if checkpoint:
                    self.checkpoint()
                    self._gc_blobs()
        finally:
            self.uninstall()
            if self.journal is not None:
                self.journal.close()

    def _remove_v1(self) -> None:
        import shutil

        for folder in ("dynamodb", "s3"):
            shutil.rmtree(self.path / folder, ignore_errors=True)
        fsync_dir(self.path)

    def _gc_blobs(self) -> None:
        """Delete blobs neither the snapshot nor the journal names (only while nothing else writes)."""
        folder = self.path / "blobs"
        if not folder.is_dir():
            return
        used: set[str] = set()
        snapshot = snapshots.read(self.path / "snapshot.json")
        for objects in snapshot.body.get("s3", {}).values():
            used.update(entry["blob"] for entry in objects.values())
        for record in read_segments(self.path / "journal", snapshot.journal):
            if "s3" in record and record["s3"][2]:
                used.add(record["s3"][2])
        for blob in folder.iterdir():
            if blob.name not in used and not blob.name.startswith("."):
                blob.unlink(missing_ok=True)
