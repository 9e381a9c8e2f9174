"""The local runtime's write-ahead journal (chronicle.local.journal) and state-directory lock, without moto."""

from __future__ import annotations

import json
import threading

import pytest

from chronicle.local.journal import Journal, JournalClosed, JournalCorrupt, read_segments, segment_path
from chronicle.local.statedir import FORMAT, StateDir, StateDirFormatError, StateDirLocked


def test_records_come_back_in_order_across_segments(tmp_path):
    journal = Journal(tmp_path, 1)
    journal.append({"n": 1})
    journal.rotate()
    journal.append({"n": 2})
    journal.sync()
    journal.close()
    assert list(read_segments(tmp_path, 1)) == [{"n": 1}, {"n": 2}]
    assert list(read_segments(tmp_path, 2)) == [{"n": 2}]


@pytest.mark.parametrize("cut", [1, 5, 9, 12])
def test_a_torn_tail_is_dropped_and_repaired(tmp_path, cut):
    journal = Journal(tmp_path, 1)
    journal.append({"n": 1})
    journal.append({"n": 2, "pad": "x" * 10})
    journal.close()
    path = segment_path(tmp_path, 1)
    path.write_bytes(path.read_bytes()[:-cut])  # a crash in the middle of the last write
    assert list(read_segments(tmp_path, 1)) == [{"n": 1}]
    size = path.stat().st_size
    assert list(read_segments(tmp_path, 1, repair=True)) == [{"n": 1}]
    assert path.stat().st_size < size
    journal = Journal(tmp_path, 1, next_seq=2)  # appending after the repair stays readable (record 2 was torn)
    journal.append({"n": 3})
    journal.close()
    assert list(read_segments(tmp_path, 1)) == [{"n": 1}, {"n": 3}]


def test_a_damaged_record_before_later_segments_is_refused(tmp_path):
    journal = Journal(tmp_path, 1)
    journal.append({"n": 1})
    journal.rotate()
    journal.append({"n": 2})
    journal.close()
    path = segment_path(tmp_path, 1)
    data = bytearray(path.read_bytes())
    data[-2] ^= 0xFF  # a flipped bit: the checksum fails
    path.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt, match="damaged"):
        list(read_segments(tmp_path, 1, repair=True))


def test_one_fsync_covers_every_record_appended_before_it(tmp_path):
    journal = Journal(tmp_path, 1)
    for n in range(50):
        journal.append({"n": n})
    journal.sync()
    journal.sync()  # nothing new: no second fsync
    assert journal.syncs == 1
    threads = [threading.Thread(target=lambda: (journal.append({"t": 1}), journal.sync())) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 2 <= journal.syncs <= 17
    journal.close()
    with pytest.raises(JournalClosed):
        journal.append({"late": True})


def test_the_state_dir_lock_names_its_holder(tmp_path):
    first = StateDir(tmp_path).acquire()
    first.set_owner(port=3123)
    with pytest.raises(StateDirLocked, match=r"pid \d+, port 3123"):
        StateDir(tmp_path).acquire()
    first.release()
    StateDir(tmp_path).acquire().release()  # free again


def test_state_dir_format_and_leftover_temp_files(tmp_path):
    state = StateDir(tmp_path)
    assert state.format() is None
    (tmp_path / "dynamodb").mkdir()
    assert state.format() == 1
    state.write_format()
    assert state.format() == FORMAT
    (tmp_path / "format.json").write_text(json.dumps({"format": FORMAT + 1}))
    with pytest.raises(StateDirFormatError, match="newer chronicle"):
        state.format()
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / ".abc.1234.tmp").write_bytes(b"half")
    (tmp_path / ".snapshot.json.99.tmp").write_bytes(b"half")
    assert len(state.clean_temp_files()) == 2
    assert not list(tmp_path.rglob("*.tmp"))


# -- storage faults (issue 20, items 6 and 7) ------------------------------------------------------------------
def _journal_with(tmp_path, n, pad=""):
    journal = Journal(tmp_path, 1)
    offsets = []
    for i in range(1, n + 1):
        offsets.append(journal.size)
        journal.append({"n": i, "pad": pad})
    journal.close()
    return segment_path(tmp_path, 1), offsets


def _flip(path, at):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x10
    path.write_bytes(bytes(data))


def test_a_flipped_bit_before_the_tail_is_refused_naming_the_file_and_offset(tmp_path):
    path, offsets = _journal_with(tmp_path, 6)
    _flip(path, offsets[2] + 25)  # inside the third record's payload
    with pytest.raises(JournalCorrupt) as refused:
        list(read_segments(tmp_path, 1, repair=True))
    assert str(path) in str(refused.value) and f"byte {offsets[2]}" in str(refused.value)
    assert "3 intact records follow" in str(refused.value)
    assert refused.value.path == path and refused.value.offset == offsets[2]
    assert path.stat().st_size == offsets[-1] + (offsets[-1] - offsets[-2])  # nothing cut off


def test_a_damaged_last_record_is_damage_not_a_torn_tail(tmp_path):
    path, offsets = _journal_with(tmp_path, 3)
    _flip(path, path.stat().st_size - 3)  # whole last record present, its checksum fails
    with pytest.raises(JournalCorrupt, match=f"byte {offsets[2]}"):
        list(read_segments(tmp_path, 1))


def test_a_damaged_length_is_not_taken_for_a_cut_short_record(tmp_path):
    path, offsets = _journal_with(tmp_path, 3)
    _flip(path, offsets[2] + 5)  # the last record's length now reaches past the end of the file
    with pytest.raises(JournalCorrupt):
        list(read_segments(tmp_path, 1))
    path2, offsets2 = _journal_with(tmp_path / "b", 3)
    _flip(path2, offsets2[1] + 4)  # a middle record's length: the records after it are still found
    with pytest.raises(JournalCorrupt, match="1 intact records follow"):
        list(read_segments(tmp_path / "b", 1))


def test_zeros_after_the_last_record_are_a_torn_tail(tmp_path):
    path, _ = _journal_with(tmp_path, 2)
    path.write_bytes(path.read_bytes() + b"\0" * 300)  # blocks allocated by a power cut, never written
    assert [r["n"] for r in read_segments(tmp_path, 1, repair=True)] == [1, 2]


def test_a_record_missing_from_the_middle_is_refused(tmp_path):
    path, offsets = _journal_with(tmp_path, 4)
    data = path.read_bytes()
    path.write_bytes(data[:offsets[1]] + data[offsets[2]:])  # record 2 cut out at its boundaries
    with pytest.raises(JournalCorrupt, match="record 3 follows record 1"):
        list(read_segments(tmp_path, 1))


def test_a_missing_segment_between_two_is_refused(tmp_path):
    journal = Journal(tmp_path, 1)
    for _ in range(3):
        journal.append({"x": 1})
        journal.rotate()
    journal.close()
    segment_path(tmp_path, 2).unlink()
    with pytest.raises(JournalCorrupt, match="00000002.log is missing"):
        list(read_segments(tmp_path, 1))


def test_a_failed_write_leaves_whole_records_and_fails_the_journal(tmp_path, monkeypatch):
    import errno

    from chronicle.local import journal as journal_module
    from chronicle.local.journal import JournalFailed

    journal = Journal(tmp_path, 1)
    journal.append({"n": 1})
    real_write, calls = journal_module.os.write, []

    def disk_full(fd, data):
        if fd != journal._fd:
            return real_write(fd, data)
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data)[:7])  # a short write, then no space at all
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module.os, "write", disk_full)
    with pytest.raises(JournalFailed) as failed:
        journal.append({"n": 2})
    assert failed.value.insufficient_storage and "No space left" in str(failed.value)
    monkeypatch.setattr(journal_module.os, "write", real_write)  # space again: the journal stays failed
    with pytest.raises(JournalFailed):
        journal.append({"n": 3})
    with pytest.raises(JournalFailed):
        journal.sync()
    journal.close()
    assert list(read_segments(tmp_path, 1)) == [{"n": 1}]  # the partial record was cut off again


def test_a_failed_fsync_fails_the_journal_for_good(tmp_path, monkeypatch):
    import errno

    from chronicle.local import journal as journal_module
    from chronicle.local.journal import JournalFailed

    journal = Journal(tmp_path, 1)
    journal.append({"n": 1})
    real = journal_module.os.fdatasync

    def broken(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(journal_module.os, "fdatasync", broken)
    with pytest.raises(JournalFailed) as failed:
        journal.sync()
    assert not failed.value.insufficient_storage
    monkeypatch.setattr(journal_module.os, "fdatasync", real)
    with pytest.raises(JournalFailed):  # the kernel may have dropped the pages: a later fsync proves nothing
        journal.sync()
    assert journal.failure is failed.value
    journal.close()


# -- checkpoints, kms.json, repair ------------------------------------------------------------------------
def _state_dir(tmp_path, records, keys=None):
    from chronicle.local import snapshot as snapshots

    (tmp_path / "format.json").write_text(json.dumps({"format": FORMAT}))
    kms = {}
    if keys is not None:
        (tmp_path / "kms.json").write_text(json.dumps(keys))
        kms = snapshots.key_digests(keys)
    body = json.dumps({"published": {}, "s3": {}, "tables": {"T": [{"id": {"S": "snap"}}]}}).encode()
    (tmp_path / "snapshot.json").write_bytes(snapshots.encode(1, 10, kms, body))
    journal = Journal(tmp_path / "journal", 1, next_seq=10)
    offsets = []
    for record in records:
        offsets.append(journal.size)
        journal.append(record)
    journal.close()
    return segment_path(tmp_path / "journal", 1), offsets


def _item(i):
    return {"d": [["T", {"id": {"S": f"k{i}"}}, {"id": {"S": f"k{i}"}}]]}


def test_an_edited_checkpoint_is_refused(tmp_path):
    from chronicle.local import snapshot as snapshots
    from chronicle.local.journal import StateCorrupt

    _state_dir(tmp_path, [_item(1)])
    assert snapshots.check_state_dir(tmp_path, FORMAT).body["tables"]["T"] == [{"id": {"S": "snap"}}]
    path = tmp_path / "snapshot.json"
    path.write_bytes(path.read_bytes().replace(b'"snap"', b'"snaq"'))
    with pytest.raises(StateCorrupt, match="snapshot.json is damaged: .* fail their checksum"):
        snapshots.check_state_dir(tmp_path, FORMAT)
    path.unlink()
    with pytest.raises(StateCorrupt, match="snapshot.json is missing"):
        snapshots.check_state_dir(tmp_path, FORMAT)


def test_a_missing_or_edited_kms_json_or_first_segment_is_refused(tmp_path):
    from chronicle.local import snapshot as snapshots
    from chronicle.local.journal import StateCorrupt

    keys = {"DataKey": {"id": "k-1", "material": "AAAA"}}
    segment, _ = _state_dir(tmp_path, [_item(1)], keys)
    snapshots.check_state_dir(tmp_path, FORMAT)
    (tmp_path / "kms.json").write_text(json.dumps({"DataKey": {"id": "k-1", "material": "BBBB"}}))
    with pytest.raises(StateCorrupt, match="kms.json was changed since the checkpoint: key.s. DataKey"):
        snapshots.check_state_dir(tmp_path, FORMAT)
    (tmp_path / "kms.json").unlink()
    with pytest.raises(StateCorrupt, match="kms.json is missing"):
        snapshots.check_state_dir(tmp_path, FORMAT)
    (tmp_path / "kms.json").write_text(json.dumps(keys))
    segment.unlink()
    with pytest.raises(JournalCorrupt, match="00000001.log is missing"):
        snapshots.check_state_dir(tmp_path, FORMAT)


def test_repair_keeps_every_intact_record_and_reports_what_is_lost(tmp_path):
    from chronicle.local import snapshot as snapshots
    from chronicle.local.repair import repair

    segment, offsets = _state_dir(tmp_path, [_item(i) for i in range(1, 7)])
    _flip(segment, offsets[2] + 20 + 42)  # record 12 (the third; numbers start at the checkpoint's 10), its image
    with pytest.raises(JournalCorrupt, match=f"byte {offsets[2]}"):
        snapshots.check_state_dir(tmp_path, FORMAT)
    state = StateDir(tmp_path).acquire()
    try:
        report = repair(state)
    finally:
        state.release()
    text = "\n".join(report.lines())
    assert report.kept == 5
    assert f"LOST {segment} bytes {offsets[2]} to {offsets[3]}: record 12\n" in text
    assert 'probably: wrote T item {"id":{"S":"k3"}}' in text
    checked = snapshots.check_state_dir(tmp_path, FORMAT)
    assert checked.body["tables"]["T"] == [{"id": {"S": "snap"}}]  # the checkpoint's body is kept as it was
    kept = list(read_segments(tmp_path / "journal", checked.journal, first_seq=checked.seq))
    assert [r["d"][0][1]["id"]["S"] for r in kept] == ["k1", "k2", "k4", "k5", "k6"]
    state = StateDir(tmp_path).acquire()
    try:
        assert repair(state).lines() == ["kept 5 intact journal records", "lost nothing"]  # nothing more to do
    finally:
        state.release()


def test_repair_refuses_what_it_cannot_rebuild(tmp_path):
    from chronicle.local.repair import RepairImpossible, repair

    _state_dir(tmp_path, [_item(1)])
    path = tmp_path / "snapshot.json"
    path.write_bytes(path.read_bytes()[:-5])
    state = StateDir(tmp_path).acquire()
    try:
        with pytest.raises(RepairImpossible, match="restore the directory from a backup"):
            repair(state)
    finally:
        state.release()


def test_repair_of_a_damaged_first_or_last_record_numbers_what_is_lost(tmp_path):
    from chronicle.local.repair import repair

    segment, offsets = _state_dir(tmp_path, [_item(i) for i in range(1, 4)])
    _flip(segment, offsets[0] + 20 + 42)  # the first record (number 10, the checkpoint's seq)
    _flip(segment, offsets[2] + 20 + 42)  # the last one (12): whole, so damage, not a torn tail
    size = segment.stat().st_size
    state = StateDir(tmp_path).acquire()
    try:
        text = "\n".join(repair(state).lines())
    finally:
        state.release()
    assert f"bytes 0 to {offsets[1]}: record 10\n" in text
    assert f"bytes {offsets[2]} to {size}: record 12 and any after it" in text
    assert text.startswith("kept 1 intact journal records")
