"""SqliteLogStorage: save, truncate, reload, hard state, and cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.replication.messages import Entry, HardState
from engine.storage.raft_log import SqliteLogStorage
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
