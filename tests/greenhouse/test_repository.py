"""Loading greenhouses from the newest snapshot plus the tail equals folding the whole stream."""

from __future__ import annotations

from domain.greenhouse.aggregate import fold
from domain.greenhouse.random_generator import RandomGenerator
from domain.greenhouse.repository import (
    SOURCE_TYPE,
    GreenhouseRepository,
    SnapshotPolicy,
    load,
    newest_snapshot,
)
from tests.greenhouse.fake_gate import FakeGate

STORE = "reg_gh"
STREAM = "greenhouse-1"


async def _gate_with_events(count: int) -> FakeGate:
    gate = FakeGate()
    await gate.create_store(STORE)
    generator = RandomGenerator(11)
    gate.write_directly(STORE, STREAM, [generator.next_event() for _ in range(count)])
    return gate


async def test_load_without_snapshots_folds_the_whole_stream_in_pages() -> None:
    gate = await _gate_with_events(2500)  # more than two pages of 1000
    greenhouse = await load(gate, STORE, STREAM)  # type: ignore[arg-type]
    assert greenhouse == fold(STREAM, gate.events(STORE, STREAM))
    assert greenhouse.version == 2499


async def test_load_of_a_missing_stream_is_an_empty_greenhouse() -> None:
    gate = FakeGate()
    await gate.create_store(STORE)
    greenhouse = await load(gate, STORE, "greenhouse-9")  # type: ignore[arg-type]
    assert greenhouse.version == -1 and greenhouse.status == "inactive"


async def test_snapshots_follow_the_policy_and_loading_from_them_equals_a_full_fold() -> None:
    gate = await _gate_with_events(0)
    repository = GreenhouseRepository(gate, STORE, SnapshotPolicy(every=50))  # type: ignore[arg-type]
    generator = RandomGenerator(11)
    for _ in range(23):  # 230 events in batches of 10
        gate.write_directly(STORE, STREAM, [generator.next_event() for _ in range(10)])
        await repository.snapshot_if_due(STREAM)
    versions = sorted(s["source_version"] for s in await gate.list_snapshots(STORE))
    assert versions == [49, 99, 149, 199]
    snapshot = await gate.get_snapshot(STORE, STREAM, STREAM, 199)
    assert snapshot["source_type"] == SOURCE_TYPE
    assert snapshot["metadata"]["status"] in ("active", "warning")

    newest = await newest_snapshot(gate, STORE, STREAM)  # type: ignore[arg-type]
    assert newest is not None and newest.version == 199
    whole = fold(STREAM, gate.events(STORE, STREAM))
    assert await repository.load(STREAM) == whole
    assert whole.version == 229


async def test_the_tail_is_read_after_the_snapshot_not_before() -> None:
    gate = await _gate_with_events(120)
    repository = GreenhouseRepository(gate, STORE, SnapshotPolicy(every=100))  # type: ignore[arg-type]
    assert await repository.snapshot_if_due(STREAM) == 119
    # Tamper with the events the snapshot covers: a load that re-read them would notice.
    for record in gate.events(STORE, STREAM)[:120]:
        record["event_type"] = "teleported:v1"
    generator = RandomGenerator(99)
    gate.write_directly(STORE, STREAM, [generator.next_event() for _ in range(5)][1:])
    loaded = await repository.load(STREAM)
    assert loaded.version == 123
    assert loaded.name is not None  # from the snapshot, since the tampered initialized is skipped
