"""A damaged store file never answers a read with wrong data or an unexpected exception.

Each event carries a checksum verified on read, and every page is checked to be exactly the
events asked for (positions and event numbers have no gaps).  A mismatch, a SQLite error or a
short page raises ``store_damaged`` and flags the store: every later read is refused too.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.protocol.errors import RETRYABLE, STATUS, GateError
from engine.storage.event_store import EventStore, damage_marker
from engine.storage.state_machine import StateMachine

T0 = 1_795_342_503_123_456
Read = Callable[[EventStore], Any]

# Every way the engine reads events, each covering position 3 (event 1 of stream "a").
READS: dict[str, Read] = {
    "stream forward": lambda s: s.read_stream("a", 0, 10),
    "stream backward": lambda s: s.read_stream("a", None, 10, "backward"),
    "all forward": lambda s: s.read_all(0, 10),
    "all backward": lambda s: s.read_all(0, 10, "backward"),
    "past, one stream": lambda s: s.read_past(0, 10, stream="a"),
    "positions": lambda s: s.read_positions([3, 4]),
}


def _append(index: int, stream: str, events: int, rng: random.Random) -> dict[str, Any]:
    return {
        "op": "append",
        "store": "s",
        "stream": stream,
        "expected_version": "any",
        "events": [
            {
                "event_id": f"e{index}-{k}",
                "event_type": "temperature_measured:v1",
                "data": {"temperature": rng.randint(6, 35), "note": "x" * rng.randint(50, 250)},
                "metadata": {"causation_id": f"c{index}"},
                "created_epoch": T0 + index,
            }
            for k in range(events)
        ],
    }


def _fill(path: Path, appends: int, seed: int) -> None:
    """A store of ``appends`` appends of 1-3 events over streams a..e, then closed."""
    rng = random.Random(seed)
    store = EventStore.create(path, config={}, created_epoch=T0, applied_index=0)
    store.apply_batch(
        [(i, _append(i, rng.choice("abcde"), rng.randint(1, 3), rng)) for i in range(1, appends)]
    )
    store.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    path = tmp_path / "s.db"
    EventStore.create(path, config={}, created_epoch=T0, applied_index=0).close()
    s = EventStore(path)
    rng = random.Random(1)
    # Positions 1..10: stream "a" holds 1, 3, 5, 7, 9 and "b" the others.
    s.apply_batch([(i, _append(i, "ab"[(i - 1) % 2], 1, rng)) for i in range(1, 11)])
    yield s
    s.close()


def _tamper(path: Path, sql: str, *args: Any) -> None:
    """Change the file behind the store's back, as a bad disk or a stray write would."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute(sql, args)
    finally:
        db.close()


def _damaged(read: Read, store: EventStore) -> GateError:
    with pytest.raises(GateError) as caught:
        read(store)
    assert caught.value.code == "store_damaged"
    assert caught.value.details == {"store": "s"}
    return caught.value


def test_store_damaged_is_a_retryable_503() -> None:
    assert STATUS["store_damaged"] == 503 and "store_damaged" in RETRYABLE


@pytest.mark.parametrize("kind", sorted(READS))
def test_a_changed_event_fails_its_checksum_and_flags_the_store(
    store: EventStore, kind: str
) -> None:
    before = store.read_all(0, 10)["events"]
    _tamper(store.path, "UPDATE events SET data = '{\"temperature\":99}' WHERE position = 3")
    assert store.read_all(3, 5)["events"] == before[3:8]  # pages without it still read fine
    err = _damaged(READS[kind], store)
    assert err.message == "store 's' is damaged: checksum mismatch at position 3"
    assert store.damaged == "checksum mismatch at position 3"
    # Flagged for good: even a read the damage does not touch is refused now.
    _damaged(lambda s: s.read_all(5, 2), store)
    _damaged(lambda s: s.list_snapshots(), store)


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE events SET event_type = 'other' WHERE position = 3",
        "UPDATE events SET event_number = 7 WHERE position = 3",
        "UPDATE events SET created_epoch = created_epoch + 1 WHERE position = 3",
        # A row read back under another position (a damaged b-tree page) fails too.
        "UPDATE events SET position = 30 WHERE position = 3",
    ],
)
def test_every_field_and_the_position_are_covered(store: EventStore, change: str) -> None:
    _tamper(store.path, change)
    _damaged(READS["all forward"], store)


@pytest.mark.parametrize("kind", sorted(READS))
def test_a_missing_event_is_a_damaged_page_not_a_short_answer(store: EventStore, kind: str) -> None:
    _tamper(store.path, "DELETE FROM events WHERE position = 3")
    err = _damaged(READS[kind], store)
    assert "expected" in err.message or "missing" in err.message, err.message


def test_sound_reads_at_the_edges_flag_nothing(store: EventStore) -> None:
    """Pages past either end, empty streams, repeated positions: no false alarm."""
    assert store.read_stream("a", 5, 10)["events"] == []
    assert store.read_stream("missing", 0, 10)["events"] == []
    assert len(store.read_stream("a", 0, 2, "backward")["events"]) == 1
    assert (
        store.read_all(10, 5)["events"] == [] and store.read_all(1, 5, "backward")["events"] == []
    )
    assert len(store.read_all(0, 1000, "backward")["events"]) == 10
    assert store.read_past(10, 5, stream="a") == ([], 10)
    repeated = [3, 0, 11, *range(1, 600), 3]  # 3 in two lookups of 500 each, and misses
    assert [e["position"] for e in store.read_positions(repeated)] == list(range(1, 11))
    assert store.damaged is None


def test_sqlite_errors_on_read_become_store_damaged(store: EventStore) -> None:
    _tamper(store.path, "DROP TABLE events")
    err = _damaged(READS["all forward"], store)
    assert err.message.startswith("store 's' is damaged: SQLite: no such table: events")


def test_the_state_machine_lists_its_damaged_stores(tmp_path: Path) -> None:
    _fill(tmp_path / "stores" / "s.db", 20, seed=3)
    machine = StateMachine(tmp_path, "always")
    try:
        assert machine.damaged() == {}
        _tamper(tmp_path / "stores" / "s.db", "UPDATE events SET data = '{}' WHERE position = 2")
        with pytest.raises(GateError, match="is damaged: checksum mismatch"):
            machine.read({"kind": "all", "store": "s"})
        assert machine.damaged() == {"s": "checksum mismatch at position 2"}
    finally:
        machine.close()


def _expected(path: Path) -> dict[str, Any]:
    """Every event as a sound copy of the store reads it, and the stream versions."""
    store = EventStore(path)
    try:
        events = store.read_all(0, store.last_position)["events"]
        return {"events": events, "streams": store.list_streams()}
    finally:
        store.close()


def _read_everything(path: Path, sound: dict[str, Any]) -> tuple[int, int, set[str]]:
    """Read every page every way; each answer must be right or ``store_damaged``.

    A fresh store object per read, its damage marker removed, so one damaged page does not hide
    what others would give.
    Returns (right answers, store_damaged answers, the reasons)."""
    events = sound["events"]
    by_stream: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_stream.setdefault(e["stream_id"], []).append(e)
    reads: list[tuple[Read, Any]] = []
    for start in range(0, len(events), 50):
        reads.append((lambda s, p=start: s.read_all(p, 50)["events"], events[start : start + 50]))
        top = len(events) - start
        want = events[max(0, top - 50) : top][::-1]
        reads.append((lambda s, p=top + 1: s.read_all(p, 50, "backward")["events"], want))
    for stream, mine in by_stream.items():
        for start in range(0, len(mine), 40):
            want = mine[start : start + 40]
            reads.append((lambda s, st=stream, n=start: s.read_stream(st, n, 40)["events"], want))
            position = mine[start]["position"] - 1
            reads.append((lambda s, st=stream, p=position: s.read_past(p, 40, stream=st)[0], want))
    right = damaged = 0
    reasons: set[str] = set()
    for read, want in reads:
        store = EventStore(path)
        try:
            got = read(store)
        except GateError as err:
            assert err.code == "store_damaged", err
            assert store.damaged is not None
            reasons.add(store.damaged)
            damaged += 1
            continue
        finally:
            store.close()
            damage_marker(path).unlink(missing_ok=True)
        assert got == want
        right += 1
    return right, damaged, reasons


def _flip(path: Path, offset: int, length: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        chunk = f.read(length)
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in chunk))


@pytest.mark.parametrize("seed", range(6))
def test_flipped_bytes_in_the_middle_of_the_file_give_no_wrong_record(
    tmp_path: Path, seed: int
) -> None:
    """The issue's repro on one store: 2 KB flipped somewhere in the middle of the file."""
    path = tmp_path / "s.db"
    _fill(path, 700, seed)
    sound = _expected(path)
    size = path.stat().st_size
    rng = random.Random(seed)
    _flip(path, rng.randrange(size // 3, 2 * size // 3), 2048)
    right, damaged, reasons = _read_everything(path, sound)
    assert damaged > 0, "the flipped bytes went unnoticed"
    print(f"seed {seed}: {right} right answers, {damaged} store_damaged: {sorted(reasons)}")


def test_one_rotten_bit_that_sqlite_cannot_see_fails_the_checksum(tmp_path: Path) -> None:
    """'x' becomes 'y' in an event's data: valid UTF-8, valid JSON, the page intact."""
    path = tmp_path / "s.db"
    _fill(path, 50, seed=2)
    sound = _expected(path)
    raw = path.read_bytes()
    offset = raw.index(b"xxxxxxxxxx", len(raw) // 2)
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(bytes([raw[offset] ^ 0x01]))
    right, damaged, reasons = _read_everything(path, sound)
    assert damaged > 0 and right > 0
    assert len(reasons) == 1 and next(iter(reasons)).startswith("checksum mismatch at position")


def test_a_file_truncated_under_an_open_store_gives_no_wrong_record(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _fill(path, 700, seed=11)
    store = EventStore(path)  # open, its caches loaded, when the file loses its second half
    try:
        os.truncate(path, path.stat().st_size // 2)
        err = _damaged(lambda s: s.read_all(0, store.last_position), store)
        assert "SQLite: database disk image is malformed" in err.message, err.message
    finally:
        store.close()


def test_a_store_written_before_checksums_reads_its_old_events_unchecked(
    tmp_path: Path,
) -> None:
    """Old events keep a NULL checksum (nothing vouches for them); new ones are checked."""
    path = tmp_path / "s.db"
    _fill(path, 10, seed=5)
    _tamper(path, "ALTER TABLE events DROP COLUMN crc")  # the schema before checksums
    store = EventStore(path)
    try:
        old = store.last_position
        columns = [row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(events)")]
        assert columns[-1] == "crc"
        store.apply_batch([(100, _append(100, "a", 2, random.Random(0)))])
        crcs = sqlite3.connect(path).execute("SELECT crc FROM events ORDER BY position")
        assert [c is None for (c,) in crcs] == [True] * old + [False, False]
        assert len(store.read_all(0, 1000)["events"]) == old + 2
        # An old event that no longer decodes is still refused, never a 500.
        _tamper(path, "UPDATE events SET data = '{broken' WHERE position = 1")
        err = _damaged(lambda s: s.read_all(0, 5), store)
        assert "does not decode" in err.message
    finally:
        store.close()


def test_a_damaged_store_stays_damaged_across_a_restart(tmp_path: Path) -> None:
    """The reason is kept next to the file: a restarted node does not serve the damage again
    until the store is deleted (or the node rebuilt)."""
    stores = tmp_path / "stores"
    _fill(stores / "s.db", 20, seed=4)
    machine = StateMachine(tmp_path, "always")
    _tamper(stores / "s.db", "UPDATE events SET data = '{}' WHERE position = 5")
    with pytest.raises(GateError, match="checksum mismatch at position 5"):
        machine.read({"kind": "all", "store": "s"})
    machine.close()
    assert (stores / "s.db.damaged").read_text() == "checksum mismatch at position 5\n"

    machine = StateMachine(tmp_path, "always")
    try:
        assert machine.damaged() == {"s": "checksum mismatch at position 5"}
        with pytest.raises(GateError, match="checksum mismatch at position 5"):
            machine.read({"kind": "all", "store": "s", "from_position": 10})  # a sound page
        machine.apply([(100, orjson.dumps({"op": "delete_store", "store": "s"}))])
        assert not (stores / "s.db.damaged").exists() and machine.damaged() == {}
    finally:
        machine.close()


def test_a_marker_without_its_store_is_removed_at_start(tmp_path: Path) -> None:
    (tmp_path / "stores").mkdir()
    (tmp_path / "stores" / "gone.db.damaged").write_text("checksum mismatch at position 1\n")
    StateMachine(tmp_path, "always").close()
    assert not (tmp_path / "stores" / "gone.db.damaged").exists()


def _put_snapshot(store: EventStore, index: int, version: int) -> None:
    cmd = {
        "op": "snapshot_put",
        "store": "s",
        "source_uuid": "src",
        "stream_uuid": "greenhouse-1",
        "version": version,
        "source_type": "Greenhouse",
        "data": {"temperature": 20 + version},
        "metadata": {},
        "created_epoch": T0,
    }
    assert store.apply_batch([(index, cmd)]) == [{}]


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s.get_snapshot("src", "greenhouse-1", 2),
        lambda s: s.list_snapshots("src"),
    ],
    ids=["get", "list"],
)
def test_snapshots_carry_a_checksum_too(store: EventStore, read: Read) -> None:
    _put_snapshot(store, 20, 1)
    _put_snapshot(store, 21, 2)
    assert store.get_snapshot("src", "greenhouse-1", 2)["data"] == {"temperature": 22}
    _tamper(
        store.path,
        "UPDATE snapshots SET data = '{\"temperature\":99}' WHERE source_version = 2",
    )
    err = _damaged(read, store)
    assert err.message.endswith("checksum mismatch in snapshot src/greenhouse-1/2")


def test_snapshots_written_before_checksums_read_unchecked(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    EventStore.create(path, config={}, created_epoch=T0, applied_index=0).close()
    store = EventStore(path)
    _put_snapshot(store, 1, 1)
    store.close()
    _tamper(path, "ALTER TABLE snapshots DROP COLUMN crc")
    _tamper(path, "UPDATE snapshots SET data = '{\"temperature\":5}'")
    store = EventStore(path)
    try:
        assert store.get_snapshot("src", "greenhouse-1", 1)["data"] == {"temperature": 5}
        _put_snapshot(store, 2, 2)
        crcs = sqlite3.connect(path).execute("SELECT crc FROM snapshots ORDER BY source_version")
        assert [c is None for (c,) in crcs] == [True, False]
    finally:
        store.close()
