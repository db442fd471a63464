"""StateMachine: store lifecycle, entry batches, restart replay and read queries."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engine.protocol.commands import (
    build_append,
    build_create_store,
    build_delete_store,
    build_snapshot_put,
    encode_command,
)
from engine.protocol.errors import GateError
from engine.storage import durability
from engine.storage.durability import fsync_path as durability_fsync
from engine.storage.event_store import EventStore
from engine.storage.state_machine import StateMachine
from tests.storage.commit_counter import CommitCounter

T0 = 1_795_342_503_123_456


class Log:
    """Encoded commands at consecutive indexes, as the replicated log would hold them."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, bytes]] = []
        self._ids = itertools.count(1)

    def add(self, cmd: dict[str, Any] | None) -> tuple[int, bytes]:
        entry = (len(self.entries) + 1, b"" if cmd is None else encode_command(cmd))
        self.entries.append(entry)
        return entry

    def create(self, store: str, **config: Any) -> tuple[int, bytes]:
        body: dict[str, Any] = {"store_id": store, "config": config}
        return self.add(build_create_store(body, now_epoch_us=T0))

    def delete(self, store: str) -> tuple[int, bytes]:
        return self.add(build_delete_store(store))

    def append(
        self, store: str, stream: str, n: int = 1, expected: Any = "any"
    ) -> tuple[int, bytes]:
        events = [{"event_type": "t", "data": {"k": k}} for k in range(n)]
        cmd = build_append(
            store,
            stream,
            {"expected_version": expected, "events": events},
            now_epoch_us=T0,
            new_id=lambda: f"id-{next(self._ids)}",
            max_events=10_000,
        )
        return self.add(cmd)


def _code(result: dict[str, Any] | None) -> str:
    assert result is not None
    return str(result["error"]["code"])


def test_lifecycle_and_results_in_entry_order(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path / "node1", "os")
    log = Log()
    entries = [
        log.add(None),
        log.create("a", retention="forever"),
        log.append("a", "s", 2),
        log.append("missing", "s"),
        log.create("a"),
        log.create("b"),
        log.append("b", "s"),
        log.append("a", "s"),
        log.delete("b"),
        log.delete("b"),
        log.append("b", "s"),
    ]
    results = sm.apply(entries)
    assert results[0] is None
    assert results[1] == {"store_id": "a"}
    assert results[2] == {"version": 1, "position": 2}
    assert _code(results[3]) == "store_not_found"
    assert _code(results[4]) == "store_exists"
    assert results[5] == {"store_id": "b"}
    assert results[6] == {"version": 0, "position": 1}
    assert results[7] == {"version": 2, "position": 3}
    assert results[8] == {}
    assert _code(results[9]) == "store_not_found"
    assert _code(results[10]) == "store_not_found"
    assert sm.applied_index == 11
    assert sm.stores() == ["a"]
    assert sorted(p.name for p in (tmp_path / "node1" / "stores").iterdir()) == [
        "a.db",
        "a.db-shm",
        "a.db-wal",
    ]
    assert sm.store("a").config == {"retention": "forever"}
    with pytest.raises(GateError) as info:
        sm.store("b")
    assert info.value.code == "store_not_found"
    sm.close()


def test_one_transaction_per_store_per_batch(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path, "os")
    log = Log()
    sm.apply([log.create("a"), log.create("b")])
    commits = {s: CommitCounter(sm.store(s)) for s in ("a", "b")}
    batch = [log.append("a" if i % 3 else "b", f"s-{i % 5}") for i in range(1000)]
    results = sm.apply(batch)
    assert all(r is not None and "version" in r for r in results)
    assert commits["a"].count == 1
    assert commits["b"].count == 1
    assert sm.store("a").last_position + sm.store("b").last_position == 1000
    sm.close()


def test_invalid_commands_in_the_log_become_errors(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path, "os")
    results = sm.apply(
        [
            (1, b"{not json"),
            (2, b'{"op": "append"}'),
            (3, b'{"op": "create_store", "store": "../escape"}'),
        ]
    )
    assert [_code(r) for r in results] == ["invalid_request"] * 3
    assert sm.stores() == []
    assert not (tmp_path / "escape.db").exists()
    sm.close()


def _state(sm: StateMachine) -> dict[str, Any]:
    return {
        store_id: (
            sm.store(store_id).list_streams(),
            sm.store(store_id).read_all(0, 1000),
            sm.store(store_id).applied_index,
        )
        for store_id in sm.stores()
    }


def _lifecycle_log() -> Log:
    log = Log()
    log.create("a")
    log.append("a", "s", 3)
    log.create("gone")
    log.append("gone", "s", 2)
    log.delete("gone")
    log.create("b")
    log.append("b", "s")
    log.create("again")
    log.delete("again")
    log.create("again", v=2)
    log.append("again", "s")
    log.append("a", "s", expected=2)
    log.append("a", "t")
    return log


def _reference_state(directory: Path, log: Log) -> dict[str, Any]:
    """The state a node reaches applying ``log`` in one go, never restarted."""
    reference = StateMachine(directory, "os")
    reference.apply(log.entries)
    state = _state(reference)
    reference.close()
    return state


def test_restart_replays_exactly(tmp_path: Path) -> None:
    log = _lifecycle_log()
    expected = _reference_state(tmp_path / "ref", log)

    sm = StateMachine(tmp_path / "node", "always")
    sm.apply(log.entries[:6])
    sm.apply(log.entries[6:10])
    sm.close()
    sm = StateMachine(tmp_path / "node", "always")
    assert sm.applied_index == 10
    # The log hands back every entry from the start: nothing is doubled or resurrected.
    sm.apply(log.entries)
    assert _state(sm) == expected
    assert sm.stores() == ["a", "again", "b"]
    assert sm.store("again").config == {"v": 2}
    sm.close()


def _forget_node_index(node_dir: Path) -> None:
    db = sqlite3.connect(node_dir / "state.db")
    db.execute("UPDATE meta SET value = 0 WHERE key = 'applied_index'")
    db.commit()
    db.close()


@pytest.mark.parametrize("cut", range(1, 14))
def test_crash_before_the_node_index_is_written(tmp_path: Path, cut: int) -> None:
    """Stores committed entries up to ``cut`` but the node-level index still says 0."""
    log = _lifecycle_log()
    expected = _reference_state(tmp_path / "ref", log)

    sm = StateMachine(tmp_path / "node", "os")
    sm.apply(log.entries[:cut])
    sm.close()
    _forget_node_index(tmp_path / "node")
    sm = StateMachine(tmp_path / "node", "os")
    assert sm.applied_index == 0
    sm.apply(log.entries)
    assert _state(sm) == expected
    sm.close()


def test_crash_during_store_creation_is_repaired_by_replay(tmp_path: Path) -> None:
    log = Log()
    log.create("a")
    log.append("a", "s")
    sm = StateMachine(tmp_path, "os")
    sm.apply(log.entries[:1])
    sm.close()
    # A crash between creating the file and committing its schema leaves an empty database
    # (and a crash while deleting can leave a WAL without its database).
    (tmp_path / "stores" / "a.db").unlink()
    (tmp_path / "stores" / "a.db").write_bytes(b"")
    (tmp_path / "stores" / "z.db-wal").write_bytes(b"stale")
    _forget_node_index(tmp_path)  # the node index was not written either
    sm = StateMachine(tmp_path, "os")
    assert sm.stores() == []
    assert not (tmp_path / "stores" / "z.db-wal").exists()
    sm.apply(log.entries)
    assert sm.stores() == ["a"]
    assert sm.store("a").stream_version("s") == 0
    sm.close()


def test_a_deleted_store_answers_store_not_found_to_a_holder(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path, "os")
    log = Log()
    sm.apply([log.create("a"), log.append("a", "s", 50)])
    store = sm.store("a")
    assert len(store.read_all(0, 1000)["events"]) == 50
    sm.apply([log.delete("a")])
    with pytest.raises(GateError) as err:
        store.read_all()
    assert err.value.code == "store_not_found"
    assert sm.stores() == []
    sm.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def wait_durable(sm: StateMachine) -> None:
    """Wait until the durable point being taken in the background, if any, is recorded.

    Nothing in a node waits for a point (it checks ``busy`` at its next round); tests reach the
    state machine's worker directly to make its background work deterministic.
    """
    sm._points.wait()


def apply_as_node(sm: StateMachine, entries: list[tuple[int, bytes]]) -> None:
    """Apply as the node's loop does: the round's disk work follows (``maintain``)."""
    sm.apply(entries)
    sm.maintain()


def _node_index(node_dir: Path) -> int:
    db = sqlite3.connect(node_dir / "state.db")
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'applied_index'").fetchone()
        return int(row[0]) if row else 0
    finally:
        db.close()


def test_the_replay_index_moves_only_at_durable_points(tmp_path: Path) -> None:
    clock = FakeClock()
    sm = StateMachine(tmp_path, "always", clock=clock, durable_interval=1.0)
    log = Log()
    apply_as_node(sm, [log.create("a"), log.append("a", "s")])
    apply_as_node(sm, [log.append("a", "s")])
    assert (sm.applied_index, sm.durable_index) == (3, 0)
    clock.now = 1.0
    sm.apply([log.append("a", "s")])
    wait_durable(sm)
    # Applying starts no point: the node does that once the round's writers have their answers.
    assert (sm.applied_index, sm.durable_index) == (4, 0)
    sm.maintain()
    wait_durable(sm)  # points are taken in the background
    assert (sm.applied_index, sm.durable_index, _node_index(tmp_path)) == (4, 4, 4)
    apply_as_node(sm, [log.append("a", "s")])
    wait_durable(sm)
    assert sm.durable_index == 4
    sm.close()  # closing is a durable point
    assert _node_index(tmp_path) == 5


def test_stores_are_synced_before_the_replay_index_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[str, int]] = []

    def fsync_path(path: Path) -> None:
        durability_fsync(path)
        synced.append((path.name, _node_index(tmp_path)))

    monkeypatch.setattr(durability, "fsync_path", fsync_path)
    clock = FakeClock()
    sm = StateMachine(tmp_path, "always", clock=clock)
    log = Log()
    apply_as_node(sm, [log.create("a"), log.create("b"), log.create("c"), log.append("a", "s")])
    apply_as_node(sm, [log.append("b", "s")])
    assert synced == []
    clock.now = 5.0
    apply_as_node(sm, [log.append("a", "s")])
    wait_durable(sm)
    # The stores written since the last point and the directory (stores were created), each
    # before the index moved past 0.
    assert synced == [("a.db-wal", 0), ("b.db-wal", 0), ("stores", 0)]
    assert _node_index(tmp_path) == 6
    synced.clear()
    apply_as_node(sm, [log.append("c", "s")])
    sm.close()
    assert synced == [("c.db-wal", 6)]
    assert _node_index(tmp_path) == 7


def test_with_fsync_os_a_point_syncs_the_log_first_and_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No store WAL is fsynced, but the log's is, before anything else (a store never keeps
    through a power loss what its log lost), and the directory of a created store."""
    synced: list[str] = []
    monkeypatch.setattr(durability, "fsync_path", lambda path: synced.append(path.name))
    sm = StateMachine(tmp_path, "os", log_wal=tmp_path / "raft.db-wal")
    log = Log()
    sm.apply([log.create("a"), log.append("a", "s")])
    sm.close()
    assert synced == ["raft.db-wal", "stores"]
    assert _node_index(tmp_path) == 2


def test_a_crash_between_durable_points_replays_from_the_last_one(tmp_path: Path) -> None:
    log = _lifecycle_log()
    expected = _reference_state(tmp_path / "ref", log)

    clock = FakeClock()
    node = tmp_path / "node"
    sm = StateMachine(node, "always", clock=clock)
    apply_as_node(sm, log.entries[:5])
    clock.now = 1.0
    apply_as_node(sm, log.entries[5:8])
    wait_durable(sm)
    apply_as_node(sm, log.entries[8:11])
    # The process dies here: no close, so the last durable point (index 8) is what is recorded.
    crashed = StateMachine(node, "always")
    assert crashed.applied_index == 8
    crashed.apply(log.entries)
    assert _state(crashed) == expected
    crashed.close()


@pytest.fixture
def loaded(tmp_path: Path) -> Any:
    sm = StateMachine(tmp_path, "os")
    log = Log()
    sm.apply([log.create("st", owner="me"), log.create("empty")])
    for _ in range(6):
        sm.apply([log.append("st", "s-a"), log.append("st", "s-b")])
    put = build_snapshot_put("st", "src", "sid", 4, {"data": {"x": 1}}, now_epoch_us=T0)
    sm.apply([log.add(put)])
    yield sm
    sm.close()


def _positions(result: dict[str, Any]) -> list[int]:
    return [e["position"] for e in result["events"]]


def test_read_queries(loaded: StateMachine) -> None:
    sm = loaded
    page = sm.read({"kind": "stream", "store": "st", "stream": "s-a", "count": "2"})
    assert (page["stream_id"], page["version"], _positions(page)) == ("s-a", 5, [1, 3])
    page = sm.read({"kind": "stream", "store": "st", "stream": "s-b", "from": 4, "count": 10})
    assert _positions(page) == [10, 12]
    back = {"kind": "stream", "store": "st", "stream": "s-a", "direction": "backward"}
    assert _positions(sm.read(back)) == [11, 9, 7, 5, 3, 1]
    missing = sm.read({"kind": "stream", "store": "st", "stream": "nope"})
    assert missing == {"stream_id": "nope", "version": -1, "events": []}
    assert _positions(sm.read({"kind": "all", "store": "st", "from_position": "10"})) == [11, 12]
    query = {"kind": "all", "store": "st", "count": 3, "direction": "backward"}
    assert _positions(sm.read(query)) == [12, 11, 10]
    assert len(sm.read({"kind": "all", "store": "st", "min_position": 12})["events"]) == 12
    assert sm.read({"kind": "streams", "store": "st"}) == {
        "streams": [{"stream_id": "s-a", "version": 5}, {"stream_id": "s-b", "version": 5}]
    }
    assert sm.read({"kind": "version", "store": "st", "stream": "s-b"}) == {
        "stream_id": "s-b",
        "version": 5,
    }
    assert sm.read({"kind": "stores"}) == {
        "stores": [
            {
                "store_id": "empty",
                "status": "running",
                "streams": 0,
                "events": 0,
                "last_position": 0,
            },
            {
                "store_id": "st",
                "status": "running",
                "streams": 2,
                "events": 12,
                "last_position": 12,
            },
        ]
    }
    assert sm.read({"kind": "store", "store": "st"})["config"] == {"owner": "me"}
    snap = sm.read(
        {
            "kind": "snapshot",
            "store": "st",
            "source_uuid": "src",
            "stream_uuid": "sid",
            "version": "4",
        }
    )
    assert (snap["source_version"], snap["data"]) == (4, {"x": 1})
    listed = sm.read({"kind": "snapshots", "store": "st", "source_uuid": "", "stream_uuid": "sid"})
    assert [s["source_version"] for s in listed["snapshots"]] == [4]
    assert sm.read({"kind": "snapshots", "store": "st", "source_uuid": "other"}) == {
        "snapshots": []
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("stream", "query"),
        ({}, "kind"),
        ({"kind": "everything"}, "kind"),
        ({"kind": "stream", "store": "st", "stream": "s-a", "count": 0}, "count"),
        ({"kind": "stream", "store": "st", "stream": "s-a", "count": 1001}, "count"),
        ({"kind": "stream", "store": "st", "stream": "s-a", "count": "ten"}, "count"),
        ({"kind": "stream", "store": "st", "stream": "s-a", "from": -1}, "from"),
        ({"kind": "stream", "store": "st", "stream": "s-a", "direction": "up"}, "direction"),
        ({"kind": "stream", "store": "st", "stream": "$all"}, "stream"),
        ({"kind": "stream", "store": "st"}, "stream"),
        ({"kind": "stream", "store": "st", "stream": "s-a", "colour": 1}, "colour"),
        ({"kind": "all", "store": "st", "from_position": "-3"}, "from_position"),
        ({"kind": "all", "store": "st", "min_position": True}, "min_position"),
        ({"kind": "all", "store": "s t"}, "store"),
        ({"kind": "version", "store": "st", "stream": ""}, "stream"),
        ({"kind": "snapshot", "store": "st", "source_uuid": "s", "stream_uuid": "x"}, "version"),
        ({"kind": "snapshots", "store": "st", "stream_uuid": 5}, "stream_uuid"),
        ({"kind": "stores", "store": "st"}, "store"),
    ],
)
def test_read_query_validation(loaded: StateMachine, query: Any, field: str) -> None:
    with pytest.raises(GateError) as info:
        loaded.read(query)
    assert info.value.code == "invalid_request"
    assert field in info.value.message


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"kind": "store", "store": "nope"}, "store_not_found"),
        ({"kind": "all", "store": "nope"}, "store_not_found"),
        (
            {
                "kind": "snapshot",
                "store": "st",
                "source_uuid": "s",
                "stream_uuid": "x",
                "version": 1,
            },
            "snapshot_not_found",
        ),
    ],
)
def test_read_query_not_found(loaded: StateMachine, query: dict[str, Any], code: str) -> None:
    with pytest.raises(GateError) as info:
        loaded.read(query)
    assert info.value.code == code
    assert info.value.status == 404


def test_store_files_follow_the_layout(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path / "node1", "os")
    sm.apply([Log().create("reg_gh")])
    sm.close()
    assert (tmp_path / "node1" / "state.db").exists()
    reopened = EventStore(tmp_path / "node1" / "stores" / "reg_gh.db")
    assert reopened.store_id == "reg_gh"
    assert reopened.applied_index == 1
    reopened.close()
