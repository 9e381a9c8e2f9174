"""The write-ahead journal of the local runtime's state: append-only segments of framed JSON records.

A record is ``<length:4 bytes big-endian><crc32:4 bytes><payload: compact JSON>``. Records are appended with one
``os.write`` each (no user-space buffer), in the order the emulator applied the changes they describe; they reach
the disk when someone calls :meth:`Journal.sync` (group commit: one ``fsync`` covers every record appended before
it, whoever appended them). The local server calls it before a command's answer leaves, so an acknowledged
command is on disk.

Segments are ``journal/<number>.log``; :meth:`Journal.rotate` starts the next one (at a checkpoint, see
``durable.py``), and :meth:`Journal.remove_before` deletes those a checkpoint made useless.

Reading (:func:`read_segment`) stops at the first record that is cut short or fails its checksum: that is the tail a
crash interrupted (nothing after it was ever synced, so nothing acknowledged is dropped). Such a tail in any
segment but the last one is corruption, and :func:`read_segments` refuses it rather than skip acknowledged data.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_HEADER = struct.Struct(">II")
MAX_RECORD = 512 * 1024 * 1024


class JournalClosed(RuntimeError):
    """The runtime is stopping: nothing more can be made durable, so nothing more may be acknowledged."""


class JournalCorrupt(RuntimeError):
    pass


def encode(record: Any, dumps: Callable[[Any], bytes] | None = None) -> bytes:
    payload = dumps(record) if dumps else json.dumps(record, separators=(",", ":")).encode()
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_segment(path: Path) -> tuple[list[Any], int, bool]:
    """(records, bytes of whole records, True if the file ends with a cut-short or damaged record)."""
    data = path.read_bytes()
    records, offset = [], 0
    while offset < len(data):
        if offset + _HEADER.size > len(data):
            return records, offset, True
        length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if length > MAX_RECORD or end > len(data) or zlib.crc32(data[start:end]) != crc:
            return records, offset, True
        try:
            records.append(json.loads(data[start:end]))
        except ValueError:
            return records, offset, True
        offset = end
    return records, offset, False


def segment_path(folder: Path, number: int) -> Path:
    return folder / f"{number:08d}.log"


def segments(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.glob("*.log") if p.stem.isdigit())


def read_segments(folder: Path, first: int, repair: bool = False) -> Iterator[Any]:
    """Every record of segments ``first`` and later, in order. A damaged tail of the last segment is skipped (it was
    never synced), and cut off the file with ``repair`` (at load, before anything appends); anywhere else it raises
    :class:`JournalCorrupt`."""
    numbers = [n for n in segments(folder) if n >= first]
    for i, number in enumerate(numbers):
        path = segment_path(folder, number)
        records, good, damaged = read_segment(path)
        if damaged:
            if i != len(numbers) - 1:
                raise JournalCorrupt(f"{path} is damaged at byte {good} and later segments exist: move the state "
                                     "directory away (or delete that segment) to start")
            if repair:
                with open(path, "r+b") as fh:  # drop the torn tail so that appending after it stays readable
                    fh.truncate(good)
                    os.fsync(fh.fileno())
        yield from records


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """Appends records to the current segment; :meth:`sync` makes everything appended so far durable."""

    def __init__(self, folder: Path, number: int) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # appends and the segment switch
        self._sync_lock = threading.Lock()  # one fsync at a time; the others wait and usually find their work done
        self._appended = 0
        self._synced = 0
        self._closed = False
        self.syncs = 0  # fsync calls made (for the docs' cost figures and the bench)
        self.records = 0
        self.number = number
        self.size = 0
        self._fd = self._open(number)

    def _open(self, number: int) -> int:
        path = segment_path(self.folder, number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(fd).st_size
        fsync_dir(self.folder)
        return fd

    def append(self, record: Any, dumps: Callable[[Any], bytes] | None = None) -> None:
        data = encode(record, dumps)
        with self._lock:
            if self._closed:
                raise JournalClosed("the local runtime is stopping")
            os.write(self._fd, data)
            self._appended += 1
            self.records += 1
            self.size += len(data)

    def sync(self) -> None:
        """Return once every record appended before this call is on disk."""
        with self._lock:
            target = self._appended
        if self._synced >= target:
            return
        with self._sync_lock:
            if self._synced >= target:
                return
            with self._lock:
                if self._closed:
                    raise JournalClosed("the local runtime is stopping")
                upto, fd = self._appended, self._fd
            os.fdatasync(fd)
            self.syncs += 1
            self._synced = max(self._synced, upto)

    def rotate(self) -> int:
        """Sync and close the current segment, start the next one; returns the new segment's number. The caller
        holds whatever keeps new changes out while it captures the state this segment follows."""
        with self._sync_lock, self._lock:
            if self._closed:
                raise JournalClosed("the local runtime is stopping")
            os.fdatasync(self._fd)
            os.close(self._fd)
            self._synced = self._appended
            self.number += 1
            self._fd = self._open(self.number)
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
            os.fdatasync(self._fd)
            os.close(self._fd)
            self._synced = self._appended
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed
