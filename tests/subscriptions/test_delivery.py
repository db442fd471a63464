"""The delivery rules of a persistent subscription, with an injected clock and no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from engine.node.delivery import Delivery
from engine.protocol.definitions import Definition, normalize_definition
from tests.subscriptions.fake_store import record


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(
    checkpoint: int = 0,
    clock: Clock | None = None,
    parked: set[int] | None = None,
    counters: dict[str, int] | None = None,
    **body: Any,
) -> Delivery:
    stored = normalize_definition({"ack_timeout_ms": 1000, "max_retries": 2, **body})
    definition = Definition.from_stored("sub", 7, stored)
    return Delivery(definition, checkpoint, clock or Clock(), parked, counters)


def feed(delivery: Delivery, first: int, last: int, **fields: Any) -> None:
    delivery.add_events([record(p, **fields) for p in range(first, last + 1)], last)


def ids(batch: list[dict[str, Any]]) -> list[str]:
    return [r["event_id"] for r in batch]


def positions(batch: list[dict[str, Any]]) -> list[int]:
    return [r["position"] for r in batch]


def test_in_order_delivery_ack_and_checkpoint() -> None:
    d = make()
    d.add_consumer(1)
    feed(d, 1, 5)
    out = d.dispatch()
    assert positions(out[1]) == [1, 2, 3, 4, 5]
    assert {r["attempt"] for r in out[1]} == {1}
    assert d.in_flight == 5
    d.ack(1, ["e-1", "e-2", "e-4"])
    counts = {"delivered": 5, "acked": 3, "nacked": 0}
    assert d.progress() == {"checkpoint": 2, "park": [], "unpark": [], "counters": counts}
    d.ack(1, ["e-3", "e-5"])
    progress = d.progress()
    counts = {"delivered": 5, "acked": 5, "nacked": 0}
    assert progress == {"checkpoint": 5, "park": [], "unpark": [], "counters": counts}
    d.progress_committed(progress)
    assert d.progress() is None
    assert d.counters == {"delivered": 5, "acked": 5, "nacked": 0}


def test_counters_go_on_from_the_last_progress_and_alone_write_nothing() -> None:
    d = make(counters={"delivered": 7, "acked": 6, "nacked": 1})
    d.add_consumer(1)
    feed(d, 1, 2)
    d.dispatch()
    d.nack(1, ["e-1"], "retry")
    assert d.counters == {"delivered": 9, "acked": 6, "nacked": 2}
    assert d.progress() is None  # a retry moves no checkpoint: the counts wait for one
    d.dispatch()
    d.ack(1, ["e-1", "e-2"])
    assert d.progress()["counters"] == {"delivered": 10, "acked": 8, "nacked": 2}


def test_checkpoint_moves_over_unselected_events() -> None:
    d = make(selector={"by_event_type": "wanted:v1"})
    d.add_consumer(1)
    feed(d, 1, 3)
    d.add_events([record(4, event_type="wanted:v1")], 10)
    assert positions(d.dispatch()[1]) == [4]
    assert d.progress()["checkpoint"] == 3
    d.ack(1, ["e-4"])
    assert d.progress()["checkpoint"] == 10


def test_max_in_flight_and_round_robin_between_competing_consumers() -> None:
    d = make(max_in_flight=2)
    for consumer in (1, 2, 3):
        d.add_consumer(consumer)
    feed(d, 1, 10)
    out = d.dispatch()
    assert {c: positions(b) for c, b in out.items()} == {1: [1, 4], 2: [2, 5], 3: [3, 6]}
    assert d.dispatch() == {}, "everyone is at max_in_flight"
    d.ack(2, ["e-2"])
    assert {c: positions(b) for c, b in d.dispatch().items()} == {2: [7]}
    d.ack(1, ["e-1", "e-4"])
    d.ack(3, ["e-3"])
    assert {c: positions(b) for c, b in d.dispatch().items()} == {3: [8], 1: [9, 10]}


def test_nack_retry_redelivers_with_attempts_then_parks_after_max_retries() -> None:
    d = make()  # max_retries 2: three attempts
    d.add_consumer(1)
    feed(d, 1, 2)
    assert positions(d.dispatch()[1]) == [1, 2]
    d.ack(1, ["e-2"])
    for attempt in (2, 3):
        d.nack(1, ["e-1"], "retry")
        batch = d.dispatch()[1]
        assert [(r["position"], r["attempt"]) for r in batch] == [(1, attempt)]
    d.nack(1, ["e-1"], "retry")
    assert d.dispatch() == {}
    progress = d.progress()
    assert progress["checkpoint"] == 2
    assert progress["park"] == [
        {
            "position": 1,
            "event_id": "e-1",
            "attempts": 3,
            "reason": "nacked with retry, after 3 attempts",
        }
    ]
    assert d.counters["nacked"] == 3


def test_nack_park_and_skip_settle_at_once() -> None:
    d = make()
    d.add_consumer(1)
    feed(d, 1, 3)
    d.dispatch()
    d.nack(1, ["e-1"], "park")
    d.nack(1, ["e-2"], "skip")
    progress = d.progress()
    assert progress["checkpoint"] == 2
    assert [p["position"] for p in progress["park"]] == [1]
    assert progress["park"][0]["reason"] == "nacked with park"
    assert d.dispatch() == {}, "neither comes again"


def test_nack_stop_requeues_and_the_consumer_gets_nothing_more() -> None:
    d = make()
    d.add_consumer(1)
    d.add_consumer(2)
    feed(d, 1, 4)
    out = d.dispatch()
    assert positions(out[1]) == [1, 3]
    d.nack(1, ["e-1"], "stop")
    out = d.dispatch()
    assert list(out) == [2]
    assert [(r["position"], r["attempt"]) for r in out[2]] == [(1, 2), (3, 2)]
    assert d.progress() is None


def test_ack_timeout_redelivers_then_parks() -> None:
    clock = Clock()
    d = make(clock=clock, max_retries=1)
    d.add_consumer(1)
    d.add_consumer(2)
    feed(d, 1, 1)
    assert d.dispatch() == {1: [{**record(1), "attempt": 1}]}
    assert d.next_deadline() == pytest.approx(101.0)
    clock.now = 100.9
    assert not d.expire()
    assert d.dispatch() == {}
    clock.now = 101.0
    assert d.expire()
    out = d.dispatch()
    assert list(out) == [2]
    assert out[2][0]["attempt"] == 2
    d.ack(1, ["e-1"])  # too late: the first consumer's ack no longer counts
    assert d.in_flight == 1
    clock.now = 102.0
    d.expire()
    assert d.in_flight == 0
    assert d.progress()["park"][0]["reason"] == "no ack within ack_timeout_ms, after 2 attempts"


def test_leaving_consumer_returns_its_events_without_a_failure() -> None:
    d = make(max_retries=0)
    d.add_consumer(1)
    feed(d, 1, 2)
    d.dispatch()
    d.remove_consumer(1)
    assert d.in_flight == 0
    d.add_consumer(2)
    assert [(r["position"], r["attempt"]) for r in d.dispatch()[2]] == [(1, 2), (2, 2)]
    assert d.progress() is None


def test_replayed_parked_events_do_not_hold_the_checkpoint_and_unpark_when_acked() -> None:
    d = make(checkpoint=10)
    d.add_consumer(1)
    feed(d, 11, 12)
    d.add_replay([record(3), record(5)])
    out = d.dispatch()[1]
    assert positions(out) == [3, 5, 11, 12]
    d.ack(1, ["e-11", "e-12", "e-3"])
    d.nack(1, ["e-5"], "park")
    progress = d.progress()
    assert progress["checkpoint"] == 12
    assert progress["unpark"] == [3]
    assert [p["position"] for p in progress["park"]] == [5]
    d.progress_committed(progress)
    assert d.progress() is None


def test_parked_events_above_the_checkpoint_are_not_delivered_again() -> None:
    d = make(checkpoint=0, parked={2})
    d.add_consumer(1)
    feed(d, 1, 3)
    assert positions(d.dispatch()[1]) == [1, 3]


def test_stream_start_from_filters_earlier_event_numbers() -> None:
    d = make(selector={"by_stream": "$s-1"}, start_from=3)
    d.add_consumer(1)
    feed(d, 1, 6)
    assert [r["event_number"] for r in d.dispatch()[1]] == [3, 4, 5]


def test_reading_stops_when_the_read_ahead_is_full() -> None:
    d = make()
    feed(d, 1, 999)
    assert d.wants_events()
    feed(d, 1000, 1000)
    assert not d.wants_events()
