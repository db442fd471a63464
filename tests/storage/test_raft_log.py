"""SqliteLogStorage: save, truncate, reload, hard state, and cache."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.replication.messages import Entry, HardState, Snapshot
from engine.storage.raft_log import _SCHEMA, SqliteLogStorage
from tests.powercut import power_cut_fs
from tests.small_disk import MB, resize, small_disk


def _entries(lo: int, hi: int, term: int) -> list[Entry]:
    return [Entry(i, term, f'{{"i":{i},"t":{term}}}'.encode()) for i in range(lo, hi)]


def test_empty_log(tmp_path: Path) -> None:
    log = SqliteLogStorage(tmp_path / "raft.db", "always")
    assert log.initial_state() == HardState()
    assert log.last_index() == 0
    assert log.term(0) == 0
    with pytest.raises(IndexError):
        log.term(1)
    with pytest.raises(IndexError):
        log.term(-1)
    assert log.entries(1, 10) == []
    log.close()


def test_save_and_read_back(tmp_path: Path) -> None:
    log = SqliteLogStorage(tmp_path / "raft.db", "os")
    log.save(HardState(term=2, vote="node1", commit=0), _entries(1, 6, 1))
    assert log.last_index() == 5
    assert [log.term(i) for i in range(6)] == [0, 1, 1, 1, 1, 1]
    assert log.entries(2, 4) == _entries(2, 4, 1)
    assert log.entries(0, 100) == _entries(1, 6, 1)
    assert log.entries(1, 6, max_count=2) == _entries(1, 3, 1)
    assert log.entries(6, 9) == []
    assert log.initial_state() == HardState(2, "node1", 0)
    log.close()


def test_hard_state_only_and_empty_save(tmp_path: Path) -> None:
    log = SqliteLogStorage(tmp_path / "raft.db", "always")
    log.save(HardState(term=3, vote=None, commit=0), [])
    log.save(None, [])
    log.close()
    log = SqliteLogStorage(tmp_path / "raft.db", "always")
    assert log.initial_state() == HardState(3, None, 0)
    assert log.last_index() == 0
    log.close()


def test_truncate_divergent_suffix_and_reload(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    log = SqliteLogStorage(path, "always")
    log.save(HardState(1, "a", 0), _entries(1, 11, 1))
    # A new leader of term 2 replaces entries 6.. with its own, shorter log.
    log.save(HardState(2, "b", 5), _entries(6, 8, 2))
    assert log.last_index() == 7
    assert [log.term(i) for i in range(1, 8)] == [1] * 5 + [2] * 2
    with pytest.raises(IndexError):
        log.term(8)
    assert log.entries(1, 20) == _entries(1, 6, 1) + _entries(6, 8, 2)
    log.close()

    reopened = SqliteLogStorage(path, "always")
    assert reopened.initial_state() == HardState(2, "b", 5)
    assert reopened.last_index() == 7
    assert reopened.entries(1, 20) == _entries(1, 6, 1) + _entries(6, 8, 2)
    rows = sqlite3.connect(path).execute("SELECT count(*) FROM log").fetchone()
    assert rows == (7,)
    reopened.close()


def test_save_rejects_gaps_and_non_contiguous_entries(tmp_path: Path) -> None:
    log = SqliteLogStorage(tmp_path / "raft.db", "always")
    log.save(None, _entries(1, 3, 1))
    with pytest.raises(ValueError):
        log.save(None, _entries(4, 5, 1))
    with pytest.raises(ValueError):
        log.save(None, [Entry(3, 1, b""), Entry(5, 1, b"")])
    with pytest.raises(ValueError):
        log.save(None, [Entry(0, 1, b"")])
    assert log.last_index() == 2
    log.close()


def test_old_entries_come_from_sqlite_new_ones_from_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    log = SqliteLogStorage(path, "os", cache_max_entries=4)
    for lo in range(1, 21, 5):
        log.save(None, _entries(lo, lo + 5, 1))
    assert log.entries(1, 21) == _entries(1, 21, 1)
    assert log.entries(3, 19, max_count=5) == _entries(3, 8, 1)
    # Truncating below the cached range restarts the cache from the new entries.
    log.save(HardState(2, None, 0), _entries(10, 12, 2))
    assert log.entries(1, 30) == _entries(1, 10, 1) + _entries(10, 12, 2)
    assert log.entries(11, 12) == _entries(11, 12, 2)
    log.close()
    reopened = SqliteLogStorage(path, "os", cache_max_entries=4)
    assert reopened.entries(1, 30) == _entries(1, 10, 1) + _entries(10, 12, 2)
    reopened.close()


def test_cache_is_bounded_by_bytes(tmp_path: Path) -> None:
    log = SqliteLogStorage(tmp_path / "raft.db", "os", cache_max_bytes=100)
    big = [Entry(i, 1, bytes([i]) * 60) for i in range(1, 6)]
    log.save(None, big)
    assert log.entries(1, 6) == big
    assert log.entries(5, 6) == big[4:]
    log.close()


def test_compaction_drops_entries_keeps_the_marker_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    log = SqliteLogStorage(path, "always", cache_max_entries=4)
    log.save(HardState(2, "a", 10), _entries(1, 8, 1) + _entries(8, 13, 2))
    with pytest.raises(ValueError, match="not of term 3"):
        log.compact(Snapshot(9, 3))
    log.compact(Snapshot(9, 2, ("a", "b", "c")))
    assert (log.snapshot(), log.last_index(), log.term(9)) == (
        Snapshot(9, 2, ("a", "b", "c")),
        12,
        2,
    )
    with pytest.raises(IndexError):
        log.term(8)
    with pytest.raises(IndexError):
        log.entries(5, 20)
    assert log.entries(10, 20) == _entries(10, 13, 2)
    with pytest.raises(ValueError, match="cannot compact to 9"):
        log.compact(Snapshot(9, 2))
    with pytest.raises(ValueError, match="cannot compact to 13"):
        log.compact(Snapshot(13, 2))
    with pytest.raises(ValueError, match="before the log's start"):
        log.save(None, _entries(9, 10, 3))
    log.save(None, _entries(12, 14, 3))  # a truncation after the marker still works
    log.close()
    rows = sqlite3.connect(path).execute("SELECT min(idx), count(*) FROM log").fetchone()
    assert rows == (10, 4)
    reopened = SqliteLogStorage(path, "always", cache_max_entries=4)
    assert reopened.snapshot() == Snapshot(9, 2, ("a", "b", "c"))
    assert (reopened.last_index(), reopened.term(9), reopened.term(13)) == (13, 2, 3)
    assert reopened.entries(10, 20) == _entries(10, 12, 2) + _entries(12, 14, 3)
    assert reopened.initial_state() == HardState(2, "a", 10)
    reopened.close()


def test_a_snapshot_replaces_the_whole_log_in_one_write(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    log = SqliteLogStorage(path, "always")
    log.save(HardState(1, None, 2), _entries(1, 6, 1))
    snapshot = Snapshot(40, 3, ("a", "b"))
    log.save(HardState(3, None, 40), _entries(41, 43, 3), snapshot)
    assert (log.snapshot(), log.last_index(), log.term(40), log.term(42)) == (snapshot, 42, 3, 3)
    assert log.entries(41, 50) == _entries(41, 43, 3)
    log.save(None, [], Snapshot(50, 4, ("a", "b")))  # a snapshot alone: the log is just it
    assert (log.last_index(), log.entries(51, 60)) == (50, [])
    log.close()
    reopened = SqliteLogStorage(path, "always")
    assert (reopened.snapshot().index, reopened.last_index(), reopened.term(50)) == (50, 50, 4)
    assert reopened.initial_state() == HardState(3, None, 40)
    reopened.close()


def test_compaction_keeps_the_file_from_growing(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    log = SqliteLogStorage(path, "os")
    for round_ in range(60):  # 6 MB of entries, 200 of 500 bytes a round
        lo = round_ * 200 + 1
        log.save(None, [Entry(i, 1, b"x" * 500) for i in range(lo, lo + 200)])
        if round_ >= 2:
            log.compact(Snapshot(lo - 200, 1))
    log.close()
    # Freed pages are reused: the database holds about the three rounds kept, not sixty.
    db = sqlite3.connect(path)
    pages, page_size = db.execute("PRAGMA page_count").fetchone(), db.execute("PRAGMA page_size")
    assert pages[0] * page_size.fetchone()[0] < 1_000_000
    assert db.execute("SELECT count(*) FROM log").fetchone() == (399,)  # 11602..12000
    db.close()


def test_a_full_disk_fails_a_save_with_its_own_error_and_the_log_goes_on_once_space_is_back(
    tmp_path: Path,
) -> None:
    # SQLite rolls a transaction back by itself when the disk is full: the error raised must be
    # that one, not "cannot rollback - no transaction is active" from a second ROLLBACK.
    with small_disk(tmp_path / "disk", MB) as disk:
        log = SqliteLogStorage(disk / "raft.db", "always")
        index = 1
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            while True:
                log.save(
                    HardState(1, None, 0), [Entry(index + k, 1, b"x" * 4000) for k in range(10)]
                )
                index += 10
        assert log.last_index() == index - 1  # the failed save left no trace, in memory either
        resize(disk, 4 * MB)
        log.save(None, [Entry(index, 1, b"after")])
        log.close()
        again = SqliteLogStorage(disk / "raft.db", "always")
        assert again.last_index() == index
        assert again.entries(index, index + 1) == [Entry(index, 1, b"after")]
        again.close()


def _big_entries(lo: int, hi: int) -> list[Entry]:
    return [Entry(i, 1, b"x" * 1000) for i in range(lo, hi)]


def _file_size(path: Path) -> int:
    """The database's size once its WAL is copied back (as the checkpoints do)."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def test_compaction_of_most_of_the_log_shrinks_the_file(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    log = SqliteLogStorage(path, "os")
    log.save(HardState(1, "a", 3000), _big_entries(1, 3001))  # 3 MB of entries
    full = _file_size(path)
    assert full > 3_000_000
    log.compact(Snapshot(2900, 1))
    small = _file_size(path)
    # 100 entries are left; half their size again is kept free for the next ones.
    assert small < 400_000, (full, small)
    # Freed pages are reused: appending and compacting as much again does not grow the file.
    for k in range(5):
        log.save(None, _big_entries(3001 + 100 * k, 3101 + 100 * k))
        log.compact(Snapshot(2900 + 100 * (k + 1), 1))
    assert _file_size(path) <= small + 200_000
    log.close()
    assert SqliteLogStorage(path, "os").entries(3401, 3501) == _big_entries(3401, 3501)


def test_a_log_created_without_incremental_vacuum_is_converted_once_mostly_free(
    tmp_path: Path,
) -> None:
    path = tmp_path / "raft.db"
    with sqlite3.connect(path) as db:  # the raft.db of an older version: auto_vacuum off
        db.executescript(_SCHEMA)
        rows = [(e.index, e.term, e.data) for e in _big_entries(1, 3001)]
        db.executemany("INSERT INTO log (idx, term, data) VALUES (?, ?, ?)", rows)
        db.execute("INSERT INTO snapshot (id, idx, term, voters) VALUES (0, 2900, 1, '[]')")
        db.execute("DELETE FROM log WHERE idx <= 2900")
    assert path.stat().st_size > 3_000_000
    log = SqliteLogStorage(path, "os")
    assert log.entries(2901, 3001) == _big_entries(2901, 3001)
    log.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental from now on
    assert _file_size(path) < 400_000


_SAVES_THEN_HANG = """
import sys, time
from pathlib import Path
from engine.replication.messages import Entry, HardState
from engine.storage.raft_log import SqliteLogStorage
log = SqliteLogStorage(Path(sys.argv[1]), "os", checkpoint_interval=3600)
log.save(HardState(1, None, 0), [Entry(1, 1, b"a")])  # a new term: fsynced
log.save(None, [Entry(2, 1, b"b")])  # not fsynced by itself
log.save(HardState(2, "n2", 0), [])  # a vote: fsynced, and everything before it
log.save(None, [Entry(3, 2, b"c")])  # never fsynced
print("saved", flush=True)
time.sleep(60)
"""


@pytest.mark.slow
def test_with_fsync_os_a_power_cut_keeps_every_vote_and_may_lose_entries(tmp_path: Path) -> None:
    with power_cut_fs(tmp_path) as fs:
        path = fs.mount / "raft.db"
        writer = subprocess.Popen(
            [sys.executable, "-c", _SAVES_THEN_HANG, str(path)], stdout=subprocess.PIPE
        )
        try:
            assert writer.stdout is not None and writer.stdout.readline() == b"saved\n"
        finally:
            writer.kill()
            writer.wait()
        fs.cut()
        log = SqliteLogStorage(path, "os")
        try:
            assert log.initial_state() == HardState(2, "n2", 0)
            assert log.entries(1, 10) == [Entry(1, 1, b"a"), Entry(2, 1, b"b")]
        finally:
            log.close()
