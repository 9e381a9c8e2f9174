"""``chronicle state repair``: keep every intact journal record of a damaged state directory, report what is lost.

The runtime refuses to start on damage before the journal's tail (journal.py). Repair reads the checkpoint and every
segment after it, keeps each record whose checksum holds (a damaged stretch is skipped to the next intact record,
found by its magic), and lists what could not be kept: the byte ranges, the record numbers missing there (known from
the numbers around them), and, where the damaged bytes still parse, which tables, keys and objects those records
touched. Then it writes the kept records as one new segment and a checkpoint header naming it (the checkpoint body is
copied unchanged), the new checkpoint being the commit point: a crash during repair leaves the directory as it was.

What repair cannot rebuild, it refuses: a damaged or missing checkpoint (it holds every table; the journal only
holds changes since) or a missing or changed ``kms.json`` (the key material of all personal data). Restore those from
a backup, or start over without the directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import snapshot as snapshots
from .journal import MAGIC, Frame, StateCorrupt, encode, fsync_dir, scan_segment, segment_path, segments
from .statedir import StateDir, atomic_write


class RepairImpossible(StateCorrupt):
    pass


@dataclass
class Report:
    kept: int = 0
    lost: list[str] = field(default_factory=list)  # one line per lost stretch, and what it held
    dropped_tail: list[str] = field(default_factory=list)  # torn tails: never acknowledged
    written: Path | None = None
    explained: set[tuple[int, int]] = field(default_factory=set)  # record-number gaps a damaged stretch accounts for

    def lines(self) -> list[str]:
        out = [f"kept {self.kept} intact journal records"]
        out += [f"  {line.strip()}" if line.startswith(" ") else f"LOST {line}" for line in self.lost] \
            or ["lost nothing"]
        out += [f"dropped {line}" for line in self.dropped_tail]
        if self.written is not None:
            out.append(f"wrote {self.written} and a new checkpoint header naming it")
        return out


def describe(record: Any) -> str:
    """What a journal record changed, in a line (records written by durable.py; anything else as JSON)."""
    if isinstance(record, dict) and "d" in record:
        return "; ".join(f"{'deleted' if image is None else 'wrote'} {table} item "
                         f"{json.dumps(key, separators=(',', ':'))}" for table, key, image in record["d"])
    if isinstance(record, dict) and "t" in record:
        return f"replaced tables {', '.join(record['t'])}"
    if isinstance(record, dict) and "s3" in record:
        bucket, key, blob = record["s3"][:3]
        return f"{'deleted' if blob is None else 'wrote'} s3://{bucket}/{key}"
    if isinstance(record, dict) and "m" in record:
        return f"published mark {record['m'][0]} up to event {record['m'][1]}"
    return json.dumps(record)[:200]


def _salvage(data: bytes, start: int, end: int) -> list[str]:
    """What the records in a damaged stretch were about, where their bytes still parse (checksum ignored)."""
    found, at = [], data.find(MAGIC, start)
    while 0 <= at < end:
        length = int.from_bytes(data[at + 4:at + 8], "big")
        payload = data[at + 20:min(at + 20 + length, end)]
        try:
            found.append(f"  probably: {describe(json.loads(payload))}")
        except (ValueError, TypeError, KeyError, IndexError):
            found.append(f"  a record at byte {at} whose contents cannot be read")
        at = data.find(MAGIC, at + 1)
    return found


def _span(before: int | None, after: int | None) -> str:
    if before is None:
        return "an unknown number of records"
    if after is None:
        return f"record {before + 1} and any after it"
    if after - before - 1 <= 0:
        return "no numbered record (a damaged stretch between two consecutive records)"
    if after - before == 2:
        return f"record {before + 1}"
    return f"records {before + 1} to {after - 1} ({after - before - 1})"


def _scan_all(folder: Path, first: int, first_seq: int | None, legacy: bool, report: Report) -> list[Any]:
    numbers = [n for n in segments(folder) if n >= first]
    if not numbers or numbers[0] != first:
        report.lost.append(f"{segment_path(folder, first)} is missing: every change it held since the checkpoint")
    scans = [scan_segment(segment_path(folder, n), Frame(legacy)) for n in numbers]
    # every intact record in journal order: (segment index, offset, seq)
    order = [(i, offset, seq) for i, scan in enumerate(scans) for offset, seq, _ in scan.records if seq is not None]
    start_seq = None if first_seq is None else first_seq - 1
    for i, (number, scan) in enumerate(zip(numbers, scans, strict=True)):
        if i and number != numbers[i - 1] + 1:
            report.lost.append(f"segments {numbers[i - 1] + 1} to {number - 1} are missing")
        data = scan.path.read_bytes()
        for start, end in scan.damaged:
            before = max((s for j, o, s in order if (j, o) < (i, start)), default=start_seq)
            after = min((s for j, o, s in order if (j, o) >= (i, end)), default=None)
            report.lost.append(f"{scan.path} bytes {start} to {end}: {_span(before, after)}")
            if before is not None and after is not None:
                report.explained.add((before, after))
            report.lost += _salvage(data, start, end)
        if scan.torn_at is not None:
            line = f"{scan.path} bytes {scan.torn_at} to {scan.size}: a record cut short"
            if i == len(numbers) - 1:
                report.dropped_tail.append(line + " by a crash (never acknowledged)")
            else:
                report.lost.append(line + " before later segments")
    kept = [(seq, record) for scan in scans for _, seq, record in scan.records]
    _seq_gaps(kept, report)
    return [record for _, record in kept]


def _seq_gaps(kept: list[tuple[int | None, Any]], report: Report) -> None:
    numbered = [seq for seq, _ in kept if seq is not None]
    for a, b in zip(numbered, numbered[1:], strict=False):
        if b != a + 1 and (a, b) not in report.explained:
            report.lost.append(f"records {a + 1} to {b - 1} are missing between intact records")


def repair(state: StateDir) -> Report:
    """Repair the (locked) state directory; :class:`RepairImpossible` for what cannot be repaired."""
    path = state.path
    state.clean_temp_files()
    version = state.format()
    if version in (None, 1):
        snapshots.check_state_dir(path, version)  # refuses a snapshot without format.json
        return Report()
    snapshot_path = path / "snapshot.json"
    if not snapshot_path.exists():
        raise RepairImpossible(f"{snapshot_path} is missing: the checkpoint holds every table and cannot be "
                               "rebuilt from the journal; restore the directory from a backup or start over")
    try:
        snapshot = snapshots.read(snapshot_path)
        snapshots.check_keys(path, snapshot)
    except StateCorrupt as error:
        raise RepairImpossible(f"{error}; repair cannot rebuild it: restore the directory from a backup or start "
                               "over") from None
    report = Report()
    records = _scan_all(path / "journal", snapshot.journal, snapshot.seq, snapshot.format == 2, report)
    report.kept = len(records)
    if report.lost or snapshot.format == 2:
        report.written = _rewrite(path, snapshot, records)
    elif report.dropped_tail:
        snapshots.check_state_dir(path, version)  # the start cuts a torn tail off; nothing else to do
    return report


def _rewrite(path: Path, snapshot: snapshots.Snapshot, records: list[Any]) -> Path:
    folder = path / "journal"
    number = max(segments(folder), default=snapshot.journal) + 1
    first_seq = snapshot.seq or 1
    target = segment_path(folder, number)
    folder.mkdir(exist_ok=True)
    with open(target, "wb") as fh:
        for i, record in enumerate(records):
            fh.write(encode(record, first_seq + i))
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(folder)
    body = snapshot.raw_body or json.dumps({k: snapshot.body.get(k, {}) for k in ("published", "s3", "tables")},
                                           separators=(",", ":")).encode()
    kms = snapshot.kms or snapshots.key_digests(snapshots.read_keys(path / "kms.json"))
    atomic_write(path / "snapshot.json", snapshots.encode(number, first_seq, kms, body))  # the commit point
    atomic_write(path / "format.json", json.dumps({"format": snapshots.FORMAT}).encode())
    for n in segments(folder):
        if n < number:
            segment_path(folder, n).unlink(missing_ok=True)
    return target
