"""The state directory itself: an exclusive lock naming its owner, the format version, leftover temporary files.

``<state-dir>/LOCK`` is held with ``flock`` for the life of the runtime (the kernel drops it when the process dies,
``kill -9`` included), and holds ``{"pid", "port", "awsPort", "startedAt"}`` so that a second ``chronicle local``
on the same directory can say who has it, at once, before it starts anything.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

from .journal import fsync_dir

# 1: dynamodb/<table>.json + s3/<bucket>/index.json, saved every 2 s; 2: snapshot.json + journal/;
# 3: checksummed snapshot header, numbered records, kms.json digests (snapshot.py, journal.py)
FORMAT = 3
FORMAT_FILE = "format.json"


class StateDirLocked(RuntimeError):
    def __init__(self, path: Path, owner: dict[str, Any]) -> None:
        self.owner = owner
        who = f"pid {owner.get('pid', '?')}"
        if owner.get("port"):
            who += f", port {owner['port']}"
        super().__init__(f"state directory {path} is in use by another chronicle local ({who}); stop it, or use "
                         "another --state-dir")


class StateDirFormatError(RuntimeError):
    pass


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` so that a crash leaves either the old or the new file, never a mix (temp + fsync + rename +
    fsync of the directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class StateDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._owner: dict[str, Any] = {}

    def acquire(self) -> StateDir:
        """Take the exclusive lock or raise :class:`StateDirLocked` naming the holder; never waits."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                owner = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                owner = {}
            os.close(fd)
            raise StateDirLocked(self.path, owner) from None
        self._fd = fd
        self.set_owner(pid=os.getpid(), startedAt=datetime.now(UTC).isoformat(timespec="seconds"))
        return self

    def set_owner(self, **info: Any) -> None:
        assert self._fd is not None
        self._owner.update(info)
        data = json.dumps(self._owner).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def clean_temp_files(self) -> list[Path]:
        """Remove what an interrupted atomic_write left (``.<name>.<random>.tmp``)."""
        removed = []
        for tmp in self.path.rglob(".*.tmp"):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
        return removed

    def format(self) -> int | None:
        """The directory's format: None for an empty directory, 1 for the layout before format.json existed."""
        file = self.path / FORMAT_FILE
        if file.exists():
            try:
                version = int(json.loads(file.read_text())["format"])
            except (ValueError, KeyError, TypeError) as exc:
                raise StateDirFormatError(f"{file} is unreadable: {exc}") from None
            if version > FORMAT:
                raise StateDirFormatError(f"{self.path} has state format {version}; this chronicle reads up to "
                                          f"{FORMAT} (a newer chronicle wrote it)")
            return version
        if (self.path / "dynamodb").is_dir() or (self.path / "s3").is_dir():
            return 1
        return None

    def write_format(self) -> None:
        atomic_write(self.path / FORMAT_FILE, json.dumps({"format": FORMAT}).encode())
