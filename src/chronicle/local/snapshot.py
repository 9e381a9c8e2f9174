"""``snapshot.json``, the checkpoint of the local state: a checksummed header line, then the body.

Format 3::

    {"format":3,"journal":N,"seq":S,"kms":{...},"bytes":B,"sha256":"..."}\\n
    {"published":{...},"s3":{...},"tables":{...}}

``journal`` is the segment that follows the checkpoint and ``seq`` the number its first record carries (journal.py);
``bytes`` and ``sha256`` are the body's length and digest; ``kms`` names each KMS key of ``kms.json`` with a digest
of its id and material, so a missing or edited ``kms.json`` is noticed before anything is encrypted with the wrong
key. Format 2 (one JSON object, with ``format``/``journal`` inside, no checksum) is still read, to migrate it.

:func:`check_state_dir` is what the runtime calls before it builds anything: every file the state needs is there
and intact, or :class:`StateCorrupt` says which is not.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .journal import JournalCorrupt, StateCorrupt, read_segments, segment_path, segments
from .statedir import FORMAT

log = logging.getLogger("chronicle.local.durable")

REPAIR_HINT = ("`chronicle state repair --state-dir {dir}` keeps every intact journal record and reports what is "
               "lost (`chronicle local --repair` does the same, then starts); or move the directory away")


@dataclass
class Snapshot:
    format: int
    journal: int
    seq: int | None  # None for format 2 (records carried no numbers)
    kms: dict[str, str]
    body: dict[str, Any]
    raw_body: bytes = b""


def encode(journal: int, seq: int, kms: dict[str, str], body: bytes) -> bytes:
    header = {"format": FORMAT, "journal": journal, "seq": seq, "kms": kms, "bytes": len(body),
              "sha256": hashlib.sha256(body).hexdigest()}
    return json.dumps(header, separators=(",", ":"), sort_keys=True).encode() + b"\n" + body


def read(path: Path) -> Snapshot:
    """The checkpoint at ``path``; :class:`StateCorrupt` if it is unreadable or fails its checksum."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StateCorrupt(f"{path} cannot be read: {error.strerror}") from None
    newline = data.find(b"\n")
    try:
        if newline < 0:  # format 2: one JSON object
            body = json.loads(data)
            if body.get("format") != 2:
                raise ValueError(f"format {body.get('format')!r}")
            return Snapshot(2, int(body["journal"]), None, {}, body)
        header = json.loads(data[:newline])
        raw = data[newline + 1:]
        if header.get("format") != FORMAT:
            raise ValueError(f"format {header.get('format')!r}")
        if len(raw) != header["bytes"] or hashlib.sha256(raw).hexdigest() != header["sha256"]:
            raise StateCorrupt(f"{path} is damaged: its {len(raw)} bytes of tables fail their checksum "
                               f"(written: {header['bytes']} bytes, sha256 {header['sha256'][:16]}...)")
        return Snapshot(FORMAT, int(header["journal"]), int(header["seq"]), dict(header.get("kms") or {}),
                        json.loads(raw), raw)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise StateCorrupt(f"{path} is damaged or not a checkpoint: {error}") from None


def key_digests(saved: dict[str, dict[str, str]]) -> dict[str, str]:
    """What the snapshot records of kms.json: per key, a digest of its id and material (not the material)."""
    return {name: hashlib.sha256(f"{key.get('id')}:{key.get('material')}".encode()).hexdigest()[:32]
            for name, key in sorted(saved.items())}


def read_keys(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    try:
        saved = json.loads(path.read_bytes())
        if not isinstance(saved, dict) or not all(isinstance(v, dict) for v in saved.values()):
            raise ValueError("not an object of keys")
        return saved
    except (ValueError, OSError) as error:
        raise StateCorrupt(f"{path} is damaged: {error}") from None


def check_keys(state_dir: Path, snapshot: Snapshot) -> None:
    path = state_dir / "kms.json"
    if not snapshot.kms:
        read_keys(path)  # readable, at least
        return
    if not path.exists():
        raise StateCorrupt(f"{path} is missing: the checkpoint was written with KMS keys "
                           f"{', '.join(sorted(snapshot.kms))}, without which no personal data can be read")
    digests = key_digests(read_keys(path))
    changed = sorted(name for name, digest in snapshot.kms.items() if digests.get(name) != digest)
    if changed:
        raise StateCorrupt(f"{path} was changed since the checkpoint: key(s) {', '.join(changed)} are missing or "
                           "differ; the data they encrypted could not be read")


def check_state_dir(state_dir: Path, version: int | None) -> Snapshot | None:
    """Refuse (:class:`StateCorrupt`) a state directory with a missing or damaged checkpoint, journal segment or
    kms.json. Returns the checkpoint (None for an empty directory or format 1). ``version`` is format.json's."""
    snapshot_path = state_dir / "snapshot.json"
    if version == 1:  # loaded from dynamodb/ and s3/ (a crash during its migration loads those again)
        return None
    if version is None and not snapshot_path.exists():  # new, or a first start that crashed before serving
        if any(segment_path(state_dir / "journal", n).stat().st_size for n in segments(state_dir / "journal")):
            raise StateCorrupt(f"{snapshot_path} is missing and {state_dir / 'journal'} holds records")
        return None
    if not snapshot_path.exists():
        raise StateCorrupt(f"{snapshot_path} is missing ({state_dir / 'format.json'} says format {version}): the "
                           "state cannot be loaded without its checkpoint")
    snapshot = read(snapshot_path)  # format.json missing beside it: a crash before it was written (it is rewritten)
    if snapshot.format < (version or 0):
        raise StateCorrupt(f"{snapshot_path} has format {snapshot.format} but {state_dir / 'format.json'} says "
                           f"{version}: an older checkpoint was put back")
    check_keys(state_dir, snapshot)
    first = segment_path(state_dir / "journal", snapshot.journal)
    if snapshot.format == FORMAT and not first.exists():
        raise JournalCorrupt(f"{first} is missing: the checkpoint names it as the journal that follows it", first, 0)
    for _ in read_segments(state_dir / "journal", snapshot.journal, legacy=snapshot.format == 2,
                           first_seq=snapshot.seq, parse=snapshot.format == 2):  # v3: the CRC vouches for the JSON
        pass
    return snapshot


def with_hint(error: StateCorrupt, state_dir: Path) -> StateCorrupt:
    """The same refusal, saying what to do about it."""
    hinted = StateCorrupt(f"{error}. Refusing to start rather than lose or invent data: "
                          + REPAIR_HINT.format(dir=state_dir))
    hinted.__cause__ = error
    return hinted


def check_state(state_dir: Any) -> Snapshot | None:
    """What the runtime calls first (after taking the lock): leftover temporary files removed, then
    :func:`check_state_dir`, its refusal saying what to do."""
    removed = state_dir.clean_temp_files()
    if removed:
        log.info("removed %d leftover temporary files from %s", len(removed), state_dir.path)
    try:
        return check_state_dir(state_dir.path, state_dir.format())
    except StateCorrupt as error:
        raise with_hint(error, state_dir.path) from error
