"""Producers against an in-memory gateway and a fake clock: pacing, retries, no loss, no dupes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from domain.greenhouse.aggregate import fold
from domain.greenhouse.catalogue import INITIALIZED, validate_event
from domain.greenhouse.event_factory import stream_seed
from domain.greenhouse.producer import Producer, ProducerPool
from domain.greenhouse.random_generator import RandomGenerator
from domain.greenhouse.repository import SnapshotPolicy
from tests.greenhouse.fake_gate import FakeClock, FakeGate

STORE = "reg_gh"
STREAM = "greenhouse-1"


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait (real time) until ``condition()`` holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.001)


async def _setup(**kwargs: object) -> tuple[FakeGate, FakeClock]:
    clock = FakeClock()
    gate = FakeGate(clock, **kwargs)  # type: ignore[arg-type]
    await gate.create_store(STORE)
    return gate, clock


def _producer(gate: FakeGate, clock: FakeClock, **kwargs: object) -> Producer:
    options: dict[str, object] = {"mode": "random", "rate": 10.0, "batch_size": 1, "seed": 1}
    options.update(kwargs)
    return Producer(gate, STORE, STREAM, clock=clock, **options)  # type: ignore[arg-type]


def _ids(gate: FakeGate) -> list[str]:
    return [e["event_id"] for e in gate.events(STORE, STREAM)]


async def test_batches_go_out_on_a_drift_free_schedule() -> None:
    # Each append takes 0.05 s of clock time; the schedule must not stretch by it.
    gate, clock = await _setup(append_latency=0.05)
    producer = _producer(gate, clock, rate=20.0, batch_size=4)
    producer.start()
    await until(lambda: len(gate.append_times) >= 50)
    await producer.stop()
    expected = [i * 4 / 20.0 for i in range(50)]
    assert gate.append_times[:50] == pytest.approx(expected)
    assert producer.produced == len(_ids(gate)) and producer.produced % 4 == 0
    assert producer.last_version == producer.produced - 1
    assert producer.state == "stopped"


async def test_a_new_stream_starts_with_initialized_and_stays_valid() -> None:
    gate, clock = await _setup()
    producer = _producer(gate, clock, mode="simulate", batch_size=3)
    producer.start()
    await until(lambda: producer.produced >= 60)
    await producer.stop()
    events = gate.events(STORE, STREAM)
    assert events[0]["event_type"] == INITIALIZED
    for event in events:
        validate_event(event["event_type"], event["data"])
    assert len(set(_ids(gate))) == len(events) == producer.produced


async def test_failed_appends_are_retried_with_the_same_ids() -> None:
    gate, clock = await _setup()
    gate.fail_next("unavailable", 3)
    gate.fail_next("timeout", 2, written=True)  # written, but the answer was lost
    producer = _producer(gate, clock, batch_size=5)
    producer.start()
    await until(lambda: producer.produced >= 30)
    await producer.stop()
    ids = _ids(gate)
    assert len(ids) == len(set(ids)) == producer.produced
    assert producer.errors == 5
    assert producer.last_error is not None and producer.last_error.startswith("timeout")
    # The same seed makes the same events: nothing was dropped or reordered by the retries.
    generator = RandomGenerator(stream_seed(producer.seed, producer.stream, -1))
    assert ids == [generator.next_event()["event_id"] for _ in ids]


async def test_another_writer_moves_the_version_and_the_batch_follows() -> None:
    gate, clock = await _setup()
    producer = _producer(gate, clock, batch_size=2)
    producer.start()
    await until(lambda: producer.produced >= 10)
    other = RandomGenerator(500)
    other.started = True
    gate.write_directly(STORE, STREAM, [other.next_event() for _ in range(3)])
    before = producer.produced
    await until(lambda: producer.produced >= before + 10)
    await producer.stop()
    ids = _ids(gate)
    assert len(ids) == len(set(ids)) == producer.produced + 3
    assert producer.errors >= 1 and producer.last_version == len(ids) - 1


async def test_a_vanished_stream_starts_over_with_initialized() -> None:
    gate, clock = await _setup()
    producer = _producer(gate, clock)
    producer.start()
    await until(lambda: producer.produced >= 5)
    gate.streams.clear()  # the stream is gone (say, the store was recreated)
    await until(lambda: len(gate.events(STORE, STREAM)) >= 5)
    await producer.stop()
    events = gate.events(STORE, STREAM)
    assert events[0]["event_type"] == INITIALIZED
    assert all(e["event_type"] != INITIALIZED for e in events[1:])


async def test_a_permanent_error_fails_the_producer_visibly() -> None:
    gate, clock = await _setup()
    producer = Producer(gate, "no_such_store", STREAM, clock=clock)  # type: ignore[arg-type]
    producer.start()
    await producer.wait()
    row = producer.row()
    assert row.state == "failed"
    assert row.last_error is not None and row.last_error.startswith("store_not_found")


async def test_a_restarted_producer_continues_without_reusing_ids() -> None:
    gate, clock = await _setup()
    for mode in ("random", "simulate", "simulate"):
        producer = _producer(gate, clock, mode=mode)
        producer.start()
        target = len(_ids(gate)) + 20
        await until(lambda: len(_ids(gate)) >= target)  # noqa: B023
        await producer.stop()
    ids = _ids(gate)
    assert len(ids) == len(set(ids))
    types = [e["event_type"] for e in gate.events(STORE, STREAM)]
    assert types.count(INITIALIZED) == 1


async def test_producers_record_snapshots() -> None:
    gate, clock = await _setup()
    producer = _producer(gate, clock, batch_size=5, snapshots=SnapshotPolicy(every=20))
    producer.start()
    await until(lambda: producer.produced >= 100)
    await producer.stop()
    versions = sorted(s["source_version"] for s in await gate.list_snapshots(STORE))
    assert versions[:4] == [19, 39, 59, 79]
    newest = max(versions)
    assert (
        gate.snapshots[(STORE, STREAM, STREAM, newest)]["data"]
        == fold(STREAM, gate.events(STORE, STREAM)[: newest + 1]).to_snapshot()
    )


async def test_stop_interrupts_a_backoff_at_once() -> None:
    gate, clock = await _setup()
    gate.fail_next("unavailable", 1_000_000)
    producer = _producer(gate, clock)
    producer.start()
    await until(lambda: producer.errors >= 3)
    await asyncio.wait_for(producer.stop(), 2.0)
    assert producer.state == "stopped" and producer.produced == 0


def test_bad_settings_are_refused() -> None:
    gate = FakeGate()
    with pytest.raises(ValueError, match="mode"):
        Producer(gate, STORE, STREAM, mode="chaos")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch"):
        Producer(gate, STORE, STREAM, batch_size=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rate"):
        Producer(gate, STORE, STREAM, rate=0)  # type: ignore[arg-type]


async def test_pool_starts_stops_and_lists_producers() -> None:
    clock = FakeClock()
    gate = FakeGate(clock)
    pool = ProducerPool(gate, "pool_store", rate=50.0, seed=3, clock=clock)  # type: ignore[arg-type]
    started = await pool.start()
    assert [p.stream for p in started] == ["greenhouse-1", "greenhouse-2", "greenhouse-3"]
    assert "pool_store" in gate.stores  # created on demand
    await until(lambda: all(r.produced >= 5 for r in pool.rows()))

    assert await pool.stop("greenhouse-2")
    assert not await pool.stop("greenhouse-2")
    assert not await pool.stop("greenhouse-42")
    more = await pool.start(2, mode="simulate")
    assert [p.stream for p in more] == ["greenhouse-2", "greenhouse-4"]
    await until(lambda: all(r.produced >= 5 for r in pool.rows()))
    await pool.stop_all()

    rows = pool.rows()
    assert [r.stream for r in rows] == [f"greenhouse-{n}" for n in (1, 2, 3, 4)]
    assert [r.mode for r in rows] == ["random", "simulate", "random", "simulate"]
    for row in rows:
        assert row.state == "stopped" and row.errors == 0 and row.rate == 50.0
        assert row.last_version == len(gate.events("pool_store", row.stream)) - 1
    all_ids = [e["event_id"] for events in gate.streams.values() for e in events]
    assert len(all_ids) == len(set(all_ids))


def test_a_pool_without_a_seed_picks_one() -> None:
    assert isinstance(ProducerPool(FakeGate()).seed, int)  # type: ignore[arg-type]
