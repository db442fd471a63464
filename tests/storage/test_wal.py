"""WAL checkpoints run on a worker thread, never inside a commit on the event loop."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.replication.messages import Entry
from engine.storage import wal
from engine.storage.raft_log import SqliteLogStorage
from engine.storage.state_machine import StateMachine
from engine.storage.wal import WalCheckpoints, checkpoint, no_autocheckpoint
from tests.storage.test_state_machine import FakeClock, Log, apply_as_node, wait_durable

PAGE = 4096
AUTOCHECKPOINT_PAGES = 1000  # SQLite's default: the line a commit would checkpoint at


def _table(path: Path, rows: int) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    no_autocheckpoint(db)
    db.execute("CREATE TABLE t (v BLOB)")
    for _ in range(rows):
        db.execute("INSERT INTO t VALUES (?)", (b"x" * 3000,))
    return db


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def test_the_log_writer_never_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    log = SqliteLogStorage(path, "os", checkpoint_interval=float("inf"))
    empty = _size(path)
    for index in range(1, 1501):
        log.save(None, [Entry(index, 1, b"e" * 3000)])
    # Past SQLite's own line, and still nothing copied into the database by a commit.
    assert _size(Path(f"{path}-wal")) > AUTOCHECKPOINT_PAGES * PAGE
    assert _size(path) == empty
    log.close()
    reopened = SqliteLogStorage(path, "os")
    assert reopened.last_index() == 1500
    assert reopened.entries(1499, 1501) == [Entry(i, 1, b"e" * 3000) for i in (1499, 1500)]
    reopened.close()


def test_the_log_is_checkpointed_while_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    log = SqliteLogStorage(path, "always", checkpoint_interval=0.0)
    for index in range(1, 301):
        log.save(None, [Entry(index, 1, b"e" * 3000)])
    log.close()
    # The worker copied entries while the writer went on: its WAL started over, so it never
    # held the whole log.
    assert _size(path) > 300 * 3000
    reopened = SqliteLogStorage(path, "os")
    assert [e.index for e in reopened.entries(1, 301)] == list(range(1, 301))
    reopened.close()


def test_a_wal_written_during_its_checkpoints_starts_over(tmp_path: Path) -> None:
    # The worker copies while the writer goes on; the writer finishes each checkpoint itself,
    # so the WAL starts over instead of holding everything ever written (about 9 MB here).
    path = tmp_path / "t.db"
    db = _table(path, 0)
    clock = FakeClock()
    points = WalCheckpoints(path, db, "NORMAL", interval=1.0, clock=clock)
    for i in range(1, 1501):
        db.execute("INSERT INTO t VALUES (?)", (b"x" * 3000,))
        if i % 100 == 0:
            clock.now += 1.0
        points.written()
    points.close()
    assert _size(Path(f"{path}-wal")) < 3 * 1024 * 1024
    assert db.execute("SELECT count(*) FROM t").fetchone() == (1500,)
    db.close()


def test_a_wal_grown_by_a_burst_shrinks_back_when_it_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    db = _table(path, 3000)  # about 9 MB written with no checkpoint: a burst on a loaded machine
    assert _size(Path(f"{path}-wal")) > 2 * wal.WAL_KEEP_BYTES
    checkpoint(path, "NORMAL")
    wal.finish(db)
    db.execute("INSERT INTO t VALUES (?)", (b"x" * 3000,))  # the WAL starts over: truncated
    assert _size(Path(f"{path}-wal")) <= wal.WAL_KEEP_BYTES
    assert db.execute("SELECT count(*) FROM t").fetchone() == (3001,)
    db.close()


def test_store_wals_start_over_at_durable_points(tmp_path: Path) -> None:
    clock = FakeClock()
    sm = StateMachine(tmp_path, "os", clock=clock, durable_interval=1.0)
    log = Log()
    apply_as_node(sm, [log.create("a")])
    for round_ in range(1, 31):
        clock.now = float(round_)
        apply_as_node(sm, [log.append("a", "s")])  # takes a point, whose worker checkpoints "a"...
        for _ in range(5):
            apply_as_node(sm, [log.append("a", "s", 100)])  # ...while the loop writes on
        wait_durable(sm)
    # 30 rounds of about 0.5 MB of frames each: without starting over, 15 MB.
    assert _size(tmp_path / "stores" / "a.db-wal") < 3 * 1024 * 1024
    sm.close()


def test_checkpoints_wait_for_the_interval_and_copy_the_wal(tmp_path: Path) -> None:
    (tmp_path / "data dir #1?").mkdir()
    path = tmp_path / "data dir #1?" / "t.db"  # a URI would misread these characters raw
    db = _table(path, 100)
    clock = FakeClock()
    points = WalCheckpoints(path, db, "NORMAL", interval=1.0, clock=clock)
    clock.now = 0.5
    points.written()
    assert points.count == 0
    clock.now = 1.0
    points.written()
    assert points.count == 1
    points.close()
    assert _size(path) > 100 * 3000
    assert db.execute("SELECT count(*) FROM t").fetchone() == (100,)
    db.close()


def test_a_failed_checkpoint_stops_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(db_path: Path, synchronous: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(wal, "checkpoint", failing)
    path = tmp_path / "t.db"
    db = _table(path, 1)
    clock = FakeClock()
    points = WalCheckpoints(path, db, "NORMAL", interval=1.0, clock=clock)
    clock.now = 1.0
    points.written()
    with pytest.raises(OSError, match="Input/output error"):
        points.close()
    db.close()


def test_a_removed_database_is_not_created_again(tmp_path: Path) -> None:
    checkpoint(tmp_path / "gone.db", "NORMAL")
    assert list(tmp_path.iterdir()) == []


def test_stores_are_checkpointed_at_durable_points_only(tmp_path: Path) -> None:
    clock = FakeClock()
    sm = StateMachine(tmp_path, "os", clock=clock, durable_interval=1.0)
    log = Log()
    apply_as_node(sm, [log.create("a")])
    store = tmp_path / "stores" / "a.db"
    created = _size(store)
    for _ in range(100):
        apply_as_node(sm, [log.append("a", "s", 100)])
    assert _size(Path(f"{store}-wal")) > AUTOCHECKPOINT_PAGES * PAGE
    assert _size(store) == created  # no commit on the loop copied anything
    clock.now = 1.0
    apply_as_node(sm, [log.append("a", "s")])
    wait_durable(sm)
    assert _size(store) > created
    sm.close()


def test_a_store_deleted_and_created_again_after_a_point_keeps_only_its_new_events(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    sm = StateMachine(tmp_path, "always", clock=clock, durable_interval=1.0)
    log = Log()
    apply_as_node(sm, [log.create("a"), log.append("a", "old", 200)])
    for round_ in range(1, 61):
        clock.now = float(round_)
        apply_as_node(sm, [log.append("a", "old")])  # starts a point that checkpoints "a"
        apply_as_node(sm, [log.delete("a"), log.create("a"), log.append("a", "new")])
    sm.close()
    reopened = StateMachine(tmp_path, "os")
    assert reopened.store("a").last_position == 1
    reopened.close()
