"""DurablePoints: the replay index is recorded after the fsyncs, in order, and failures surface."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.storage import durability
from engine.storage.durability import DurablePoints


def _recorded(path: Path) -> int | None:
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'applied_index'").fetchone()
        return row[0] if row else None
    finally:
        db.close()


def test_points_are_recorded_in_order_and_survive_reopening(tmp_path: Path) -> None:
    points = DurablePoints(tmp_path / "state.db", "always")
    assert points.recorded == 0
    for index in (3, 7, 12):
        points.take(index, [])
    points.wait()
    assert points.recorded == 12
    points.close()
    assert _recorded(tmp_path / "state.db") == 12
    assert DurablePoints(tmp_path / "state.db", "always").recorded == 12


def test_a_failed_fsync_records_nothing_and_stops_the_next_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(path: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(durability, "fsync_path", failing)
    points = DurablePoints(tmp_path / "state.db", "always")
    points.take(5, [tmp_path / "x.db-wal"])
    with pytest.raises(OSError):
        points.wait()
    assert _recorded(tmp_path / "state.db") is None
    with pytest.raises(OSError):
        points.take(6, [])
    with pytest.raises(OSError):
        points.close()


def test_a_file_that_is_gone_needs_no_fsync(tmp_path: Path) -> None:
    durability.fsync_path(tmp_path / "deleted-store.db-wal")  # no error
    durability.fsync_path(tmp_path)  # directories too
