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
