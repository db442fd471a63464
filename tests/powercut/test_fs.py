"""The power-cut layer itself: what it keeps and what it drops (a real FUSE mount)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.powercut import PowerCutFS, power_cut_fs

pytestmark = pytest.mark.slow


@pytest.fixture
def fs(tmp_path: Path) -> Iterator[PowerCutFS]:
    with power_cut_fs(tmp_path) as mounted:
        yield mounted


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def test_a_new_file_never_synced_vanishes(fs: PowerCutFS) -> None:
    (fs.mount / "new").write_bytes(b"x" * 10_000)
    report = fs.cut()
    assert not (fs.mount / "new").exists()
    assert report["vanished"] == ["/new"]


def test_fsync_keeps_a_file_and_a_dir_fsync_keeps_its_name(fs: PowerCutFS) -> None:
    (fs.mount / "synced").write_bytes(b"kept")
    _fsync(fs.mount / "synced")
    (fs.mount / "sub").mkdir()
    (fs.mount / "sub" / "named").write_bytes(b"data not synced")
    _fsync(fs.mount / "sub")
    fs.cut()
    assert (fs.mount / "synced").read_bytes() == b"kept"
    assert (fs.mount / "sub" / "named").read_bytes() == b""  # the name only


def test_unsynced_overwrites_and_appends_are_undone(fs: PowerCutFS) -> None:
    path = fs.mount / "file"
    with open(path, "wb") as out:
        out.write(b"a" * 8192)
        out.flush()
        os.fsync(out.fileno())
        out.seek(100)
        out.write(b"b" * 50)
        out.seek(100)
        out.write(b"c" * 20)
        out.seek(0, os.SEEK_END)
        out.write(b"tail")
    os.truncate(path, 4000)
    with open(path, "r+b") as out:
        out.seek(5000)
        out.write(b"z")
    assert path.stat().st_size == 5001
    fs.cut()
    assert path.read_bytes() == b"a" * 8192


def test_fdatasync_counts_as_fsync(fs: PowerCutFS) -> None:
    path = fs.mount / "file"
    with open(path, "wb") as out:
        out.write(b"one")
        out.flush()
        os.fdatasync(out.fileno())
        out.write(b"two")
    fs.cut()
    assert path.read_bytes() == b"one"


def _sqlite_rows(path: Path, journal: str, synchronous: str, rows: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA journal_mode={journal}")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB)")
    for _ in range(rows):
        db.execute("INSERT INTO t (v) VALUES (?)", (os.urandom(300),))
    db.close()


def _count(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows: int = db.execute("SELECT count(*) FROM t").fetchone()[0]
        return rows
    finally:
        db.close()


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_sqlite_commits_with_synchronous_full_survive(fs: PowerCutFS, journal: str) -> None:
    path = fs.mount / "full.db"
    _sqlite_rows(path, journal, "FULL", 200)
    fs.cut()
    assert _count(path) == 200


def test_sqlite_commits_with_synchronous_off_are_lost(fs: PowerCutFS) -> None:
    """WAL at OFF never fsyncs (a checkpoint would: none runs below 1,000 pages), so the
    database loses every commit after the one that made the schema durable."""
    path = fs.mount / "off.db"
    _sqlite_rows(path, "wal", "FULL", 10)
    _sqlite_rows(path, "wal", "OFF", 200)
    fs.cut()
    assert _count(path) == 10
