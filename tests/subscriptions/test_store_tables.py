"""Subscription commands applied to a real store database: definitions, progress, restarts."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.protocol import definitions
from engine.protocol.commands import build_append
from engine.storage.event_store import EventStore

T0 = 1_795_342_503_123_456


class Store:
    """A store fed with commands at consecutive log indexes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = EventStore.create(path, config={}, created_epoch=T0, applied_index=1)
        self.index = 1
        self.ids = itertools.count(1)

    def apply(self, *cmds: dict[str, Any]) -> list[dict[str, Any]]:
        items = []
        for cmd in cmds:
            self.index += 1
            items.append((self.index, cmd))
        return self.db.apply_batch(items)

    def append(self, stream: str, n: int) -> dict[str, Any]:
        body = {"events": [{"event_type": "t", "data": {}} for _ in range(n)]}
        cmd = build_append(
            "s", stream, body, now_epoch_us=T0, new_id=lambda: f"e-{next(self.ids)}", max_events=99
        )
        return self.apply(cmd)[0]

    def put(self, name: str, **body: Any) -> dict[str, Any]:
        return self.apply(definitions.build_put("s", name, body, now_epoch_us=T0))[0]

    def checkpoint(self, name: str) -> int:
        row = self.db.subscriptions.get(name)
        assert row is not None
        return row.checkpoint


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "s.db")
    yield s
    s.db.close()


def test_put_is_idempotent_and_a_different_definition_conflicts(store: Store) -> None:
    generation = store.db.subscriptions.generation
    assert store.put("a", selector={"by_stream": "$all"}) == {"name": "a", "created": True}
    assert store.db.subscriptions.generation == generation + 1
    assert store.put("a", type="by_stream", selector="$all") == {"name": "a", "created": False}
    conflict = store.put("a", selector={"by_stream": "$x"})
    assert conflict["error"]["code"] == "subscription_exists"
    assert store.db.subscriptions.generation == generation + 1
    (row,) = store.db.subscriptions.list()
    assert row.definition["selector"] == "$all"
    assert row.incarnation == 2


def test_start_from_sets_the_initial_checkpoint(store: Store) -> None:
    store.append("x", 3)
    store.append("y", 3)
    store.put("origin", selector={"by_stream": "$all"})
    store.put("current", selector={"by_stream": "$all"}, start_from="current")
    store.put("position", selector={"by_stream": "$all"}, start_from=4)
    store.put("number", selector={"by_stream": "$y"}, start_from=1)
    store.put("future", selector={"by_stream": "$y"}, start_from=9)
    assert store.checkpoint("origin") == 0
    assert store.checkpoint("current") == 6
    assert store.checkpoint("position") == 3
    assert store.checkpoint("number") == 4  # y's event 1 is at position 5
    assert store.checkpoint("future") == 6


def test_progress_parks_unparks_and_never_moves_back(store: Store) -> None:
    store.put("a")
    incarnation = store.db.subscriptions.get("a").incarnation

    def progress(checkpoint: int, park: list[int] = (), unpark: list[int] = ()) -> Any:
        parks = [{"position": p, "event_id": f"e-{p}", "attempts": 3, "reason": "r"} for p in park]
        cmd = {
            "op": definitions.PROGRESS,
            "store": "s",
            "name": "a",
            "incarnation": incarnation,
            "checkpoint": checkpoint,
            "park": parks,
            "unpark": list(unpark),
        }
        return store.apply(cmd)[0]

    assert progress(5, park=[2, 4]) == {}
    assert [p.position for p in store.db.subscriptions.parked("a", 10)] == [2, 4]
    assert progress(3, unpark=[2]) == {}
    assert store.checkpoint("a") == 5
    assert store.db.subscriptions.get("a").parked == 1
    store.apply(definitions.build_delete("s", "a"))
    store.put("a", selector={"by_stream": "$other"})
    stale = progress(9)
    assert stale["error"]["code"] == "subscription_not_found", "progress of the deleted one"
    assert store.checkpoint("a") == 0
    assert store.db.subscriptions.parked("a", 10) == []


def test_subscriptions_survive_reopening(store: Store) -> None:
    store.put("a", selector={"by_event_type": "t"}, max_retries=3)
    store.db.close()
    reopened = EventStore(store.path)
    try:
        (row,) = reopened.subscriptions.list()
        assert row.definition["max_retries"] == 3
        missing = reopened.apply_batch([(99, definitions.build_delete("s", "nope"))])
        assert missing[0]["error"]["code"] == "subscription_not_found"
    finally:
        reopened.close()


def _progress_with_counters(store: Store, counters: dict[str, int]) -> dict[str, Any]:
    incarnation = store.db.subscriptions.get("a").incarnation
    cmd = {
        "op": definitions.PROGRESS,
        "store": "s",
        "name": "a",
        "incarnation": incarnation,
        "checkpoint": 0,
        "park": [],
        "unpark": [],
        "counters": counters,
    }
    return store.apply(cmd)[0]


def test_counters_are_kept_with_progress_and_never_go_back(store: Store) -> None:
    store.put("a")
    assert store.db.subscriptions.get("a").counters == {}
    assert _progress_with_counters(store, {"delivered": 5, "acked": 4, "nacked": 1}) == {}
    # A deposed leader's late progress: each count keeps the larger value.
    assert _progress_with_counters(store, {"delivered": 3, "acked": 6, "nacked": 0}) == {}
    row = store.db.subscriptions.get("a")
    assert row.counters == {"delivered": 5, "acked": 6, "nacked": 1}


def test_a_store_from_before_replicated_counters_gets_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.put("a")
    store.db.close()
    # The subscriptions table as it was created before the counters column.
    db = sqlite3.connect(tmp_path / "s.db")
    db.execute("ALTER TABLE subscriptions DROP COLUMN counters")
    db.commit()
    db.close()
    reopened = EventStore(tmp_path / "s.db")
    store.db = reopened
    try:
        assert reopened.subscriptions.get("a").counters == {}
        assert _progress_with_counters(store, {"acked": 2}) == {}
        assert reopened.subscriptions.get("a").counters == {"acked": 2}
    finally:
        reopened.close()
