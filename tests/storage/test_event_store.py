"""EventStore: append semantics, reads, snapshots, restart replay, group commit."""

from __future__ import annotations

import itertools
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engine.protocol.commands import build_append, build_snapshot_delete, build_snapshot_put
from engine.protocol.errors import GateError
from engine.storage.event_store import CONTENT_ERRORS, EventStore, IncompleteStoreError, iso_utc
from tests.storage.commit_counter import CommitCounter

T0 = 1_795_342_503_123_456  # 2026-11-22T10:15:03.123456Z


class Harness:
    """One store fed with commands at consecutive log indexes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = EventStore.create(path, config={"k": "v"}, created_epoch=T0, applied_index=1)
        self.commits = CommitCounter(self.store)
        self.index = 1
        self.clock = itertools.count(T0, 1_000_000)
        self.ids = itertools.count(1)

    def append_cmd(self, stream: str, *event_ids: str, expected: Any = "any") -> dict[str, Any]:
        events = [
            {"event_id": eid, "event_type": "t", "data": {"n": eid}, "metadata": {"m": 1}}
            for eid in event_ids
        ]
        return build_append(
            "s",
            stream,
            {"expected_version": expected, "events": events},
            now_epoch_us=next(self.clock),
            new_id=lambda: f"gen-{next(self.ids)}",
            max_events=10_000,
        )

    def apply(self, *cmds: dict[str, Any]) -> list[dict[str, Any]]:
        items = []
        for cmd in cmds:
            self.index += 1
            items.append((self.index, cmd))
        return self.store.apply_batch(items)

    def append(self, stream: str, *event_ids: str, expected: Any = "any") -> dict[str, Any]:
        return self.apply(self.append_cmd(stream, *event_ids, expected=expected))[0]


@pytest.fixture
def h(tmp_path: Path) -> Any:
    harness = Harness(tmp_path / "s.db")
    yield harness
    harness.store.close()


def _wrong(result: dict[str, Any], current: int) -> str:
    assert result["error"]["code"] == "wrong_expected_version"
    assert result["error"]["current_version"] == current
    return str(result["error"]["message"])


def test_new_store_is_empty(h: Harness) -> None:
    assert h.store.applied_index == 1
    assert h.store.last_position == 0
    assert h.store.info() == {
        "store_id": "s",
        "status": "running",
        "config": {"k": "v"},
        "streams": 0,
        "events": 0,
        "last_position": 0,
    }
    assert h.store.read_stream("x") == {"stream_id": "x", "version": -1, "events": []}
    assert h.store.read_all() == {"events": []}
    assert h.store.read_all(0, 10, "backward") == {"events": []}


def test_numbers_are_per_stream_and_positions_global(h: Harness) -> None:
    assert h.append("a", "a1", "a2") == {"version": 1, "position": 2}
    assert h.append("b", "b1") == {"version": 0, "position": 3}
    assert h.append("a", "a3") == {"version": 2, "position": 4}
    events = h.store.read_all()["events"]
    assert [(e["stream_id"], e["event_number"], e["position"]) for e in events] == [
        ("a", 0, 1),
        ("a", 1, 2),
        ("b", 0, 3),
        ("a", 2, 4),
    ]
    assert h.store.stream_version("a") == 2
    assert h.store.stream_version("b") == 0
    assert h.store.stream_version("c") == -1
    assert h.store.list_streams() == [
        {"stream_id": "a", "version": 2},
        {"stream_id": "b", "version": 0},
    ]
    assert h.store.info()["streams"] == 2
    assert h.store.info()["events"] == 4


def test_event_record_shape(h: Harness) -> None:
    h.append("a", "e1")
    (record,) = h.store.read_stream("a")["events"]
    assert record == {
        "event_id": "e1",
        "event_type": "t",
        "stream_id": "a",
        "event_number": 0,
        "position": 1,
        "data": {"n": "e1"},
        "metadata": {"m": 1},
        "created": "2026-11-22T10:15:03.123456Z",
        "created_epoch": T0,
    }
    assert iso_utc(0) == "1970-01-01T00:00:00.000000Z"
    assert iso_utc(T0 + 876_544) == "2026-11-22T10:15:04.000000Z"


@pytest.mark.parametrize(
    ("expected", "ok_when_missing", "ok_at_version_1"),
    [
        ("any", True, True),
        ("no_stream", True, False),
        (-1, True, False),
        ("stream_exists", False, True),
        (0, False, False),
        (1, False, True),
        (2, False, False),
    ],
)
def test_expected_versions(
    h: Harness, expected: Any, ok_when_missing: bool, ok_at_version_1: bool
) -> None:
    missing = h.append("new", "n1", expected=expected)
    if ok_when_missing:
        assert missing == {"version": 0, "position": 1}
    else:
        assert "expected" in _wrong(missing, -1)
    h.append("old", "o1", "o2")
    before = h.store.last_position
    existing = h.append("old", "o3", expected=expected)
    if ok_at_version_1:
        assert existing == {"version": 2, "position": before + 1}
    else:
        _wrong(existing, 1)
        assert h.store.last_position == before
        assert h.store.stream_version("old") == 1


def test_retry_after_exact_version_succeeds_without_writing(h: Harness) -> None:
    h.append("a", "x1")
    first = h.append("a", "r1", "r2", expected=0)
    h.append("a", "x2")
    h.append("b", "y1")
    assert h.append("a", "r1", "r2", expected=0) == first == {"version": 2, "position": 3}
    assert h.store.last_position == 5
    assert h.store.stream_version("a") == 3
    # A retry of a prefix of the original batch is a retry too.
    assert h.append("a", "r1", expected=0) == {"version": 1, "position": 2}


@pytest.mark.parametrize("expected", ["any", "stream_exists"])
def test_retry_with_loose_expectation_matches_anywhere(h: Harness, expected: Any) -> None:
    h.append("a", "x1")
    first = h.append("a", "r1", "r2")
    h.append("a", "x2")
    assert h.append("a", "r1", "r2", expected=expected) == first
    assert h.append("a", "r2", expected=expected) == first
    assert h.store.last_position == 4


def test_retry_of_first_batch_with_no_stream(h: Harness) -> None:
    first = h.append("a", "r1", expected="no_stream")
    h.append("a", "x1")
    assert h.append("a", "r1", expected="no_stream") == first
    assert h.append("a", "r1", expected=-1) == first
    assert h.store.last_position == 2


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (("r1", "new"), "any"),  # only some ids exist
        (("new", "r2"), 0),
        (("r2", "r1"), 0),  # wrong order
        (("r1", "r3"), 0),  # not consecutive
        (("r1", "r2"), 1),  # not right after the expected version
        (("r2",), "no_stream"),
        (("r1", "r2", "r3", "r4"), 0),  # more than was stored
    ],
)
def test_event_id_conflicts(h: Harness, ids: tuple[str, ...], expected: Any) -> None:
    h.append("a", "x0")
    h.append("a", "r1", "r2", "x1", "r3")
    result = h.append("a", *ids, expected=expected)
    assert "event ids conflict" in _wrong(result, 4)
    assert h.store.last_position == 5


def test_same_event_id_in_another_stream_is_a_new_event(h: Harness) -> None:
    h.append("a", "e1")
    assert h.append("b", "e1") == {"version": 0, "position": 2}


def test_batch_results_see_earlier_commands_of_the_batch(h: Harness) -> None:
    results = h.apply(
        h.append_cmd("a", "e1", expected="no_stream"),
        h.append_cmd("a", "e2", expected=0),
        h.append_cmd("a", "e3", expected=0),  # stale expectation: fails
        h.append_cmd("a", "e2", expected=0),  # retry of the second command
        h.append_cmd("b", "f1", expected="stream_exists"),
        h.append_cmd("a", "e3", expected=1),
    )
    assert results[0] == {"version": 0, "position": 1}
    assert results[1] == {"version": 1, "position": 2}
    _wrong(results[2], 1)
    assert results[3] == {"version": 1, "position": 2}
    _wrong(results[4], -1)
    assert results[5] == {"version": 2, "position": 3}
    assert h.store.stream_version("a") == 2
    assert h.store.stream_version("b") == -1
    assert h.commits.count == 1


def test_group_commit_of_1000_appends_is_one_transaction(h: Harness) -> None:
    commits_before = h.commits.count
    results = h.apply(*(h.append_cmd(f"s-{i % 7}", f"e{i}") for i in range(1000)))
    assert h.commits.count == commits_before + 1
    assert [r["position"] for r in results] == list(range(1, 1001))
    assert h.store.last_position == 1000
    assert sum(v + 1 for v in (h.store.stream_version(f"s-{i}") for i in range(7))) == 1000
    # The applied index moved with the events: the database says so too.
    db = sqlite3.connect(h.path)
    assert db.execute("SELECT value FROM meta WHERE key = 'applied_index'").fetchone() == (h.index,)
    db.close()


def test_replayed_entries_are_skipped(h: Harness) -> None:
    cmds = [h.append_cmd("a", "e1"), h.append_cmd("a", "e2"), h.append_cmd("b", "f1")]
    items = [(10 + k, cmd) for k, cmd in enumerate(cmds)]
    h.store.apply_batch(items[:2])
    commits = h.commits.count
    assert h.store.apply_batch(items[:2]) == [{}, {}]
    assert h.commits.count == commits  # nothing to do, no transaction
    results = h.store.apply_batch(items)
    assert results[:2] == [{}, {}]
    assert results[2] == {"version": 0, "position": 3}
    assert h.store.applied_index == 12
    assert h.store.last_position == 3


def test_reopen_restores_caches_and_replay_is_exact(tmp_path: Path) -> None:
    h = Harness(tmp_path / "s.db")
    items = []
    for k in range(20):
        h.index += 1
        items.append((h.index, h.append_cmd(f"s-{k % 3}", f"e{k}")))
    h.store.apply_batch(items[:12])
    h.store.close()
    reopened = EventStore(tmp_path / "s.db")
    assert reopened.applied_index == items[11][0]
    assert reopened.last_position == 12
    assert reopened.config == {"k": "v"}
    # The log replays everything from the start: only the 8 new entries are applied.
    reopened.apply_batch(items)
    assert reopened.last_position == 20
    assert [reopened.stream_version(f"s-{i}") for i in range(3)] == [6, 6, 5]
    all_ids = [e["event_id"] for e in reopened.read_all(0, 1000)["events"]]
    assert all_ids == [f"e{k}" for k in range(20)]
    reopened.close()


def test_failed_batch_rolls_back_and_leaves_caches(h: Harness) -> None:
    h.append("a", "e1")

    # An I/O failure stand-in: the third command of the batch fails inside SQLite with an
    # error that is not about the command's content (SQLITE_AUTH, as a failing disk's errors).
    def deny_snapshots(action: int, table: str | None, *_: object) -> int:
        return sqlite3.SQLITE_DENY if table == "snapshots" else sqlite3.SQLITE_OK

    h.store._writer.set_authorizer(deny_snapshots)
    put = build_snapshot_put("s", "src", "str", 1, {"data": {}}, now_epoch_us=T0)
    with pytest.raises(sqlite3.DatabaseError) as failure:
        h.apply(h.append_cmd("a", "e2"), h.append_cmd("b", "f1"), put)
    assert not isinstance(failure.value, CONTENT_ERRORS)
    h.store._writer.set_authorizer(None)
    assert h.store.stream_version("a") == 0
    assert h.store.stream_version("b") == -1
    assert h.store.last_position == 1
    assert h.store.applied_index == 2
    assert [e["event_id"] for e in h.store.read_all()["events"]] == ["e1"]
    assert h.append("a", "e2") == {"version": 1, "position": 2}


def test_malformed_and_unknown_commands_become_error_results(h: Harness) -> None:
    dup = h.append_cmd("a", "e1")
    dup["events"].append(dict(dup["events"][0]))
    results = h.apply({"op": "frobnicate"}, {"op": "append", "stream": "a"}, dup)
    assert [r["error"]["code"] for r in results] == ["invalid_request"] * 3
    assert h.store.last_position == 0
    assert h.append("a", "e1") == {"version": 0, "position": 1}


def _ids(page: dict[str, Any]) -> list[str]:
    return [e["event_id"] for e in page["events"]]


def test_read_stream_paging(h: Harness) -> None:
    for k in range(10):
        h.append("a", f"a{k}")
        h.append("b", f"b{k}")
    page = h.store.read_stream("a", None, 4, "forward")
    assert (page["stream_id"], page["version"], _ids(page)) == ("a", 9, ["a0", "a1", "a2", "a3"])
    assert _ids(h.store.read_stream("a", 4, 4)) == ["a4", "a5", "a6", "a7"]
    assert _ids(h.store.read_stream("a", 8, 4)) == ["a8", "a9"]
    assert _ids(h.store.read_stream("a", 10, 4)) == []
    assert _ids(h.store.read_stream("a", None, 3, "backward")) == ["a9", "a8", "a7"]
    assert _ids(h.store.read_stream("a", 6, 3, "backward")) == ["a6", "a5", "a4"]
    assert _ids(h.store.read_stream("a", 1, 3, "backward")) == ["a1", "a0"]
    assert _ids(h.store.read_stream("a", 50, 2, "backward")) == ["a9", "a8"]
    assert [e["event_number"] for e in h.store.read_stream("b", 0, 100)["events"]] == list(
        range(10)
    )


def test_read_all_paging(h: Harness) -> None:
    for k in range(5):
        h.append("a", f"a{k}")
        h.append("b", f"b{k}")
    page = h.store.read_all(0, 3)
    assert [e["position"] for e in page["events"]] == [1, 2, 3]
    assert [e["position"] for e in h.store.read_all(3, 3)["events"]] == [4, 5, 6]
    assert [e["position"] for e in h.store.read_all(9, 3)["events"]] == [10]
    assert h.store.read_all(10, 3)["events"] == []
    assert [e["position"] for e in h.store.read_all(0, 3, "backward")["events"]] == [10, 9, 8]
    assert [e["position"] for e in h.store.read_all(8, 3, "backward")["events"]] == [7, 6, 5]
    assert [e["position"] for e in h.store.read_all(3, 3, "backward")["events"]] == [2, 1]
    assert [e["position"] for e in h.store.read_all(1, 3, "backward")["events"]] == []
    assert [e["position"] for e in h.store.read_all(99, 2, "backward")["events"]] == [10, 9]


def test_read_past_of_a_stream_is_the_filtered_global_order(h: Harness) -> None:
    """``read_past`` with a stream (the stream's index, a binary search for the start) gives
    what filtering the global order would, from every position, with every page size; the
    position it read up to never skips an event of the stream."""
    rng = random.Random(7)
    for k in range(40):
        stream = rng.choice("aab")  # a: two thirds of the events, in runs and gaps
        h.append(stream, *(f"{stream}{k}-{j}" for j in range(rng.randint(1, 3))))
    last = h.store.last_position
    every = h.store.read_all(0, last)["events"]
    for stream in ("a", "b", "missing", None):
        for count in (1, 2, 5, 500):
            for position in range(last + 1):
                events, read_to = h.store.read_past(position, count, stream=stream)
                wanted = [e for e in every if e["position"] > position]
                wanted = [e for e in wanted if stream is None or e["stream_id"] == stream]
                assert events == wanted[:count], (stream, count, position)
                unread = [e for e in wanted if e["position"] <= read_to and e not in events]
                assert not unread and position <= read_to <= last, (stream, count, position)
                assert read_to == (last if len(wanted) < count else events[-1]["position"])


def test_read_positions(h: Harness) -> None:
    for k in range(600):  # more than one query's worth
        h.append("ab"[k % 2], f"e{k}")
    wanted = [600, 1, 501, 2, 999]  # out of order, and one beyond the end
    events = h.store.read_positions(wanted)
    assert [(e["position"], e["event_id"]) for e in events] == [
        (1, "e0"),
        (2, "e1"),
        (501, "e500"),
        (600, "e599"),
    ]
    everything = list(range(1, 601))
    assert [e["position"] for e in h.store.read_positions(everything)] == everything
    assert h.store.read_positions([]) == []


def test_snapshots_put_get_list_overwrite_delete(h: Harness) -> None:
    def put(src: str, stream: str, version: int, body: dict[str, Any]) -> None:
        cmd = build_snapshot_put("s", src, stream, version, body, now_epoch_us=T0)
        assert h.apply(cmd) == [{}]

    put("src-1", "st-1", 3, {"data": {"v": 3}, "metadata": {"m": 1}, "source_type": "agg"})
    put("src-1", "st-1", 5, {"data": {"v": 5}})
    put("src-1", "st-2", 1, {"data": {"w": 1}})
    put("src-2", "st-1", 0, {"data": {}})
    assert h.store.get_snapshot("src-1", "st-1", 3) == {
        "source_uuid": "src-1",
        "stream_uuid": "st-1",
        "source_version": 3,
        "source_type": "agg",
        "data": {"v": 3},
        "metadata": {"m": 1},
        "created_at": "2026-11-22T10:15:03.123456Z",
        "created_epoch": T0,
    }
    keys = [
        (s["source_uuid"], s["stream_uuid"], s["source_version"]) for s in h.store.list_snapshots()
    ]
    assert keys == [
        ("src-1", "st-1", 3),
        ("src-1", "st-1", 5),
        ("src-1", "st-2", 1),
        ("src-2", "st-1", 0),
    ]
    assert len(h.store.list_snapshots(source_uuid="src-1")) == 3
    assert len(h.store.list_snapshots(stream_uuid="st-1")) == 3
    assert len(h.store.list_snapshots("src-1", "st-2")) == 1
    put("src-1", "st-1", 3, {"data": {"v": "again"}})
    again = h.store.get_snapshot("src-1", "st-1", 3)
    assert (again["data"], again["metadata"], again["source_type"]) == ({"v": "again"}, {}, None)
    assert h.apply(build_snapshot_delete("s", "src-1", "st-1", 3)) == [{}]
    assert h.apply(build_snapshot_delete("s", "src-1", "st-1", 3)) == [{}]
    with pytest.raises(GateError) as info:
        h.store.get_snapshot("src-1", "st-1", 3)
    assert info.value.code == "snapshot_not_found"
    assert len(h.store.list_snapshots()) == 3


def test_closed_store_reads_raise_store_not_found(h: Harness) -> None:
    h.store.close()
    with pytest.raises(GateError) as info:
        h.store.read_all()
    assert info.value.code == "store_not_found"
    h.store.close()  # idempotent


def test_incomplete_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "half.db"
    sqlite3.connect(path).close()
    with pytest.raises(IncompleteStoreError):
        EventStore(path)
    with pytest.raises(FileNotFoundError):
        EventStore(tmp_path / "missing.db")
