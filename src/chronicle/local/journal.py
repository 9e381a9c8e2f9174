"""The write-ahead journal of the local runtime's state: append-only segments of framed, checksummed JSON records.

A record (format 3) is ``<magic "\\x89CJR"><length:4><seq:8><crc32:4><payload: compact ASCII JSON>``, all integers
big-endian; the CRC-32 (zlib) covers length, seq and payload. ``seq`` numbers records across segments without a gap,
so a record missing from the middle is noticed; the magic (never found in ASCII JSON) lets a reader find the next
intact record after a damaged one. Format 2 records (``<length:4><crc32:4><payload>``) are still read, to migrate a
state directory written before.

Records are appended with ``os.write`` (no user-space buffer), in the order the emulator applied the changes they
describe; they reach the disk when someone calls :meth:`Journal.sync` (group commit: one ``fdatasync`` covers every
record appended before it, whoever appended them). A failed write or sync makes the journal *failed* for good
(:class:`JournalFailed`): nothing appended after it can be made durable, so nothing may be acknowledged.

Reading (:func:`scan_segment`) tells a *torn tail* from *damage*. A torn tail is the last record of the last
segment cut short by a crash (an incomplete header, a length reaching past the end of the file, or zeros to the
end) with no intact record after it: it was never synced, so dropping it loses nothing acknowledged. Anything
else (a failed checksum, a gap in ``seq``, a torn record in an earlier segment) is damage: :func:`read_segments`
raises :class:`JournalCorrupt` naming the file and byte offset, and ``chronicle state repair``
(``repair.py``) keeps every intact record and reports what is lost.

The record API is generic: a record is any JSON value; what it means is up to its writer (``durable.py``).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("chronicle.local.journal")

MAGIC = b"\x89CJR"
_HEADER = struct.Struct(">4sIQI")  # magic, length, seq, crc32(length, seq, payload)
_LEGACY = struct.Struct(">II")  # format 2: length, crc32(payload)
MAX_RECORD = 512 * 1024 * 1024


class StateCorrupt(RuntimeError):
    """A state directory that cannot be loaded as it is: refused, never started as partial state."""


class JournalCorrupt(StateCorrupt):
    def __init__(self, message: str, path: Path | None = None, offset: int | None = None) -> None:
        super().__init__(message)
        self.path, self.offset = path, offset


class JournalClosed(RuntimeError):
    """The runtime is stopping: nothing more can be made durable, so nothing more may be acknowledged."""


class JournalFailed(RuntimeError):
    """A journal write or sync failed (disk full, I/O error): the runtime can acknowledge nothing more."""

    def __init__(self, folder: Path, error: OSError) -> None:
        self.folder = folder
        self.errno = error.errno
        self.strerror = error.strerror or str(error)
        super().__init__(f"writing the journal in {folder} failed: {self.strerror}")

    @property
    def insufficient_storage(self) -> bool:
        return self.errno in (errno.ENOSPC, errno.EDQUOT)


def _crc(length: int, seq: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack(">IQ", length, seq)))


def _payload(record: Any, dumps: Callable[[Any], bytes] | None) -> bytes:
    return dumps(record) if dumps else json.dumps(record, separators=(",", ":")).encode()


def encode(record: Any, seq: int, dumps: Callable[[Any], bytes] | None = None) -> bytes:
    payload = _payload(record, dumps)
    return _HEADER.pack(MAGIC, len(payload), seq, _crc(len(payload), seq, payload)) + payload


def encode_legacy(record: Any) -> bytes:
    """A format-2 record (tests of the migration write these)."""
    payload = _payload(record, None)
    return _LEGACY.pack(len(payload), zlib.crc32(payload)) + payload


@dataclass
class Frame:
    """One record layout: how to decode a record at an offset and where to look for the next one."""

    legacy: bool = False
    parse: bool = True  # False: check framing and checksums only, give the payload's bytes (a faster check)

    @property
    def header(self) -> int:
        return _LEGACY.size if self.legacy else _HEADER.size

    def decode(self, data: bytes, offset: int) -> tuple[Any, int, int | None] | None:
        """(record, end offset, seq) of an intact record at ``offset``, else None."""
        if offset + self.header > len(data):
            return None
        if self.legacy:
            length, crc = _LEGACY.unpack_from(data, offset)
            seq = None
        else:
            magic, length, seq, crc = _HEADER.unpack_from(data, offset)
            if magic != MAGIC:
                return None
        start, end = offset + self.header, offset + self.header + length
        if length > MAX_RECORD or end > len(data):
            return None
        payload = data[start:end]
        if crc != (zlib.crc32(payload) if self.legacy else _crc(length, seq or 0, payload)):
            return None
        if not self.parse:
            return payload, end, seq
        try:
            return json.loads(payload), end, seq
        except ValueError:
            return None

    def candidates(self, data: bytes, start: int) -> Iterator[int]:
        """Offsets at or after ``start`` where a record could begin."""
        marker, back = (b"{", _LEGACY.size) if self.legacy else (MAGIC, 0)
        at = data.find(marker, start + back)
        while at >= 0:
            yield at - back
            at = data.find(marker, at + 1)

    def cut_short(self, data: bytes, offset: int) -> bool:
        """Whether the bytes from ``offset`` to the end look like a record a crash interrupted."""
        rest = data[offset:]
        if len(rest) < self.header or not rest.strip(b"\0"):
            return True
        if self.legacy:
            length, _ = _LEGACY.unpack_from(rest)
            return length > len(rest) - self.header
        magic, length, seq, crc = _HEADER.unpack_from(rest)
        if magic != MAGIC or length <= len(rest) - self.header:
            return False
        # A length past the end: cut short, unless the rest is a whole record whose length field was damaged.
        payload = rest[self.header:]
        return _crc(len(payload), seq, payload) != crc


@dataclass
class Scan:
    """What one segment holds: intact records, damaged byte ranges, and a torn tail's offset if any."""

    path: Path
    size: int
    records: list[tuple[int, int | None, Any]] = field(default_factory=list)  # (offset, seq, record)
    damaged: list[tuple[int, int]] = field(default_factory=list)  # [start, end) byte ranges
    torn_at: int | None = None

    @property
    def good_end(self) -> int:
        """Where appending may continue: the end of the last intact record before any torn tail."""
        return self.torn_at if self.torn_at is not None else self.size


def scan_segment(path: Path, frame: Frame | None = None) -> Scan:
    frame = frame or Frame()
    data = path.read_bytes()
    scan = Scan(path, len(data))
    offset = 0
    while offset < len(data):
        got = frame.decode(data, offset)
        if got is not None:
            record, end, seq = got
            scan.records.append((offset, seq, record))
            offset = end
            continue
        following = next((c for c in frame.candidates(data, offset + 1) if frame.decode(data, c)), None)
        if following is None:
            if frame.cut_short(data, offset):
                scan.torn_at = offset
            else:
                scan.damaged.append((offset, len(data)))
            break
        scan.damaged.append((offset, following))
        offset = following
    return scan


def segment_path(folder: Path, number: int) -> Path:
    return folder / f"{number:08d}.log"


def segments(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.glob("*.log") if p.stem.isdigit())


def _describe(path: Path, offset: int, what: str) -> JournalCorrupt:
    return JournalCorrupt(f"{path} is damaged at byte {offset}: {what}", path, offset)


def read_segments(folder: Path, first: int, repair: bool = False, legacy: bool = False,
                  first_seq: int | None = None, parse: bool = True) -> Iterator[Any]:
    """Every record of segments ``first`` and later, in order. A torn tail of the last segment is skipped (it was
    never synced), and cut off the file with ``repair`` (at load, before anything appends). Damage anywhere, a torn
    record in an earlier segment, a gap in the record numbers (from ``first_seq`` when given) or a missing segment
    raises :class:`JournalCorrupt`."""
    frame = Frame(legacy, parse)
    numbers = [n for n in segments(folder) if n >= first]
    expected = first_seq
    for i, number in enumerate(numbers):
        if i and number != numbers[i - 1] + 1:
            raise JournalCorrupt(f"{segment_path(folder, numbers[i - 1] + 1)} is missing (segments "
                                 f"{numbers[i - 1]} and {number} exist)", segment_path(folder, number), 0)
        path = segment_path(folder, number)
        scan = scan_segment(path, frame)
        if scan.damaged:
            start, end = scan.damaged[0]
            later = sum(1 for r in scan.records if r[0] >= end)
            raise _describe(path, start, f"{end - start} bytes fail their checksum, and {later} intact records "
                                         "follow them")
        if scan.torn_at is not None and i != len(numbers) - 1:
            raise _describe(path, scan.torn_at, "a record is cut short and later segments exist")
        for offset, seq, record in scan.records:
            if expected is not None and seq is not None and seq != expected:
                raise _describe(path, offset, f"record {seq} follows record {expected - 1} (records are missing)")
            expected = None if seq is None else seq + 1
            yield record
        if scan.torn_at is not None and repair:
            with open(path, "r+b") as fh:  # drop the torn tail so that appending after it stays readable
                fh.truncate(scan.torn_at)
                os.fsync(fh.fileno())


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """Appends records to the current segment; :meth:`sync` makes everything appended so far durable."""

    def __init__(self, folder: Path, number: int, next_seq: int = 1) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # appends and the segment switch
        self._sync_lock = threading.Lock()  # one fsync at a time; the others wait and usually find their work done
        self._appended = 0
        self._synced = 0
        self._closed = False
        self.failure: JournalFailed | None = None  # set for good by the first failed write or sync
        self.syncs = 0  # fsync calls made (for the docs' cost figures and the bench)
        self.records = 0
        self.number = number
        self.next_seq = next_seq  # the seq of the next record appended
        self.first_seq = next_seq  # the seq of the current segment's first record
        self.size = 0
        self._fd = self._open(number)

    def _open(self, number: int) -> int:
        path = segment_path(self.folder, number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(fd).st_size
        fsync_dir(self.folder)
        return fd

    def _check(self) -> None:
        if self.failure is not None:
            raise self.failure
        if self._closed:
            raise JournalClosed("the local runtime is stopping")

    def fail(self, error: OSError) -> JournalFailed:
        """Record a failed write or sync (here or of a file the journal's records name): no more appends."""
        if self.failure is None:
            self.failure = JournalFailed(self.folder, error)
            log.error("%s: every request is refused from now on (GET /health says so); free the disk and restart",
                      self.failure)
        return self.failure

    def append(self, record: Any, dumps: Callable[[Any], bytes] | None = None) -> None:
        payload = _payload(record, dumps)
        with self._lock:
            self._check()
            seq = self.next_seq
            data = _HEADER.pack(MAGIC, len(payload), seq, _crc(len(payload), seq, payload)) + payload
            try:
                self._write_all(data)
            except OSError as error:
                self._undo_partial()
                raise self.fail(error) from error
            self.next_seq += 1
            self._appended += 1
            self.records += 1
            self.size += len(data)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            if written <= 0:
                raise OSError(errno.EIO, "the journal write made no progress")
            view = view[written:]

    def _undo_partial(self) -> None:
        """Cut off what a failed write left, so that the segment ends with a whole record."""
        try:
            os.ftruncate(self._fd, self.size)
        except OSError:
            pass  # the next start sees a torn tail there, and it was never acknowledged

    def sync(self) -> None:
        """Return once every record appended before this call is on disk."""
        with self._lock:
            self._check()
            target = self._appended
        if self._synced >= target:
            return
        with self._sync_lock:
            if self._synced >= target:
                return
            with self._lock:
                self._check()
                upto, fd = self._appended, self._fd
            self._fdatasync(fd)
            self.syncs += 1
            self._synced = max(self._synced, upto)

    def _fdatasync(self, fd: int) -> None:
        try:
            os.fdatasync(fd)
        except OSError as error:
            # After a failed fsync the kernel may have dropped the dirty pages: nothing since the last good sync
            # can be trusted to be on disk, so nothing more is acknowledged.
            raise self.fail(error) from error

    def rotate(self) -> int:
        """Sync and close the current segment, start the next one; returns the new segment's number. The caller
        holds whatever keeps new changes out while it captures the state this segment follows."""
        with self._sync_lock, self._lock:
            self._check()
            self._fdatasync(self._fd)
            os.close(self._fd)
            self._synced = self._appended
            self.number += 1
            self.first_seq = self.next_seq
            try:
                self._fd = self._open(self.number)
            except OSError as error:
                raise self.fail(error) from error
            return self.number

    def remove_before(self, number: int) -> None:
        for n in segments(self.folder):
            if n < number:
                try:
                    segment_path(self.folder, n).unlink()
                except OSError:
                    pass

    def close(self) -> None:
        with self._sync_lock, self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self.failure is None:
                    self._fdatasync(self._fd)
                    self._synced = self._appended
            finally:
                os.close(self._fd)

    @property
    def closed(self) -> bool:
        return self._closed
