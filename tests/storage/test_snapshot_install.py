"""Store snapshots: copies taken while a node applies, installed on another node, and the
replay after them ending in the state of a node that applied the whole log."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from engine.replication.messages import Snapshot
from engine.storage.snapshot_files import backup_stores, file_sha256, recover_directory
from engine.storage.state_machine import StateMachine
from tests.storage.test_state_machine import (
    _lifecycle_log,
    _reference_state,
    _state,
    apply_as_node,
)

LOG = _lifecycle_log()  # 13 entries: stores created, written, deleted and created again


@pytest.mark.parametrize(("index", "ahead"), [(3, 0), (5, 2), (7, 4), (9, 1), (11, 2), (13, 0)])
def test_a_snapshot_installed_then_replayed_matches_a_node_that_applied_everything(
    tmp_path: Path, index: int, ahead: int
) -> None:
    expected = _reference_state(tmp_path / "ref", LOG)
    leader = StateMachine(tmp_path / "leader", "os")
    apply_as_node(leader, LOG.entries[:index])
    # The snapshot's index is read first; the copies are taken later, the stores having
    # applied ``ahead`` entries more (a store created or deleted meanwhile included).
    apply_as_node(leader, LOG.entries[index : index + ahead])
    files = backup_stores(leader.stores_dir, tmp_path / "out")
    for f in files:
        path = tmp_path / "out" / f.name
        assert (path.stat().st_size, file_sha256(path)) == (f.size, f.sha256)
    assert not list((tmp_path / "out").glob("*-wal"))  # each copy is one whole file
    leader.close()

    follower = StateMachine(tmp_path / "follower", "os")
    apply_as_node(follower, LOG.entries[:2])  # an old state, replaced whole
    follower.install(tmp_path / "out", Snapshot(index, 1))
    assert follower.applied_index == follower.durable_index == index
    assert not (tmp_path / "out").exists()  # moved into place, not copied
    apply_as_node(follower, LOG.entries[index:])
    assert _state(follower) == expected
    follower.close()
    # A restart starts from the snapshot's index and replays to the same state.
    again = StateMachine(tmp_path / "follower", "os")
    assert again.installed_snapshot == Snapshot(index, 1)
    again.apply(LOG.entries[again.applied_index :])
    assert _state(again) == expected
    again.close()


def test_a_store_deleted_while_it_is_copied_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = tmp_path / "stores"
    stores.mkdir()
    for name in ("kept", "gone"):
        db = sqlite3.connect(stores / f"{name}.db")
        db.execute("CREATE TABLE t (x)")
        db.close()
    real_connect = sqlite3.connect

    def delete_first(target: str, *args: object, **kwargs: object) -> sqlite3.Connection:
        if "gone.db?mode=rw" in str(target):
            os.unlink(stores / "gone.db")  # deleted between the listing and the copy
        return real_connect(target, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite3, "connect", delete_first)
    files = backup_stores(stores, tmp_path / "out")
    assert [f.name for f in files] == ["kept.db"]
    assert not (stores / "gone.db").exists()  # not created again, empty


def test_an_install_cut_short_by_a_crash_is_finished_or_undone(tmp_path: Path) -> None:
    stores = tmp_path / "stores"
    # Crashed between the two renames: the old stores are put back.
    (tmp_path / "stores.old").mkdir()
    (tmp_path / "stores.old" / "a.db").write_bytes(b"old")
    recover_directory(stores)
    assert (stores / "a.db").read_bytes() == b"old" and not (tmp_path / "stores.old").exists()
    # Crashed after both: the new stores stay, the old ones go.
    (tmp_path / "stores.old").mkdir()
    recover_directory(stores)
    assert (stores / "a.db").exists() and not (tmp_path / "stores.old").exists()
