"""The fault checker (engine/client/checker.py) must catch what it is there for: the batch
checker the fault tests run after a run, and the live one the consoles run during it."""

from __future__ import annotations

from typing import Any

from engine.client.checker import (
    Attempt,
    LiveChecker,
    check_histories,
    event_digest,
    replay_live,
)

# -- the batch checker (the fault tests') ----------------------------------------------------


def _attempts(last_position: int = 5) -> list[Attempt]:
    return [
        Attempt(0, 0, "fault-0", ("w0-s0-e0", "w0-s0-e1"), 0.0, 1.0, "ack", 2),
        Attempt(1, 0, "fault-1", ("w1-s0-e0",), 0.5, 1.5, "ack", 3),
        Attempt(0, 1, "fault-0", ("w0-s1-e0",), 1.1, 4.0, "unknown"),
        Attempt(1, 1, "fault-1", ("w1-s1-e0",), 1.6, 4.0, "failed", error="unavailable: x"),
        Attempt(0, 2, "fault-1", ("w0-s2-e0",), 4.1, 4.5, "ack", last_position),
    ]


def _history(order: list[str], attempts: list[Attempt]) -> list[dict[str, Any]]:
    """$all as a node would hold ``order`` (event ids), numbered the way a store numbers."""
    by_id = {i: (a, k) for a in attempts for k, i in enumerate(a.event_ids)}
    numbers: dict[str, int] = {}
    events = []
    for position, event_id in enumerate(order, start=1):
        attempt, k = by_id.get(event_id, (Attempt(9, 9, "fault-9", (event_id,), 0.0), 0))
        number = numbers.get(attempt.stream, -1) + 1
        numbers[attempt.stream] = number
        events.append(
            {
                "event_id": event_id,
                "stream_id": attempt.stream,
                "event_number": number,
                "position": position,
                "data": {"writer": attempt.writer, "seq": attempt.seq, "k": k},
            }
        )
    return events


GOOD = ["w0-s0-e0", "w0-s0-e1", "w1-s0-e0", "w0-s1-e0", "w0-s2-e0"]


def _verdict(attempts: list[Attempt] | None = None, **orders: list[str]) -> str:
    attempts = attempts or _attempts()
    nodes = {"node1": GOOD, "node2": GOOD, "node3": GOOD} | orders
    verdict = check_histories({n: _history(o, attempts) for n, o in nodes.items()}, attempts)
    return "" if verdict.ok else verdict.report()


def test_checker_accepts_a_consistent_history() -> None:
    assert _verdict() == ""
    # An unknown outcome may be absent as well (then the last write was acked at position 4).
    without = [i for i in GOOD if i != "w0-s1-e0"]
    assert _verdict(_attempts(last_position=4), node1=without, node2=without, node3=without) == ""


def test_checker_reports_lost_duplicated_and_divergent_events() -> None:
    lost = _verdict(node2=[i for i in GOOD if i != "w1-s0-e0"])
    assert "node2: 1 acknowledged writes missing: w1-s0-e0" in lost
    assert "node2 diverges from node1" in lost
    duplicated = _verdict(node3=[*GOOD, "w0-s2-e0"])
    assert "node3: 1 duplicated event ids: w0-s2-e0 at positions [5, 6]" in duplicated
    failed = [*GOOD, "w1-s1-e0"]
    assert "answered 503" in _verdict(node1=failed, node2=failed, node3=failed)
    stranger = [*GOOD, "nobody-wrote-this"]
    assert "never attempted: nobody-wrote-this" in _verdict(node1=stranger)
    partial = ["w0-s0-e0", "w1-s0-e0", "w0-s1-e0", "w0-s2-e0"]
    assert "partly present" in _verdict(node1=partial, node2=partial, node3=partial)


def test_checker_reports_reordered_writes() -> None:
    # w0-s2 was issued after w1-s0 was acknowledged, so it cannot come first.
    early = ["w0-s2-e0", "w0-s0-e0", "w0-s0-e1", "w1-s0-e0", "w0-s1-e0"]
    report = _verdict(node1=early, node2=early, node3=early)
    assert "writer 0 wrote w0-s1-e0 before w0-s2-e0" in report
    assert "was acknowledged before w0-s2-e0 was issued" in report


def test_checker_reports_an_altered_payload() -> None:
    attempts = _attempts()
    events = _history(GOOD, attempts)
    for attempt in attempts:
        k_events = [e for e in events if e["event_id"] in attempt.event_ids]
        attempt.digests = tuple(event_digest(e) for e in k_events)
    assert check_histories(dict.fromkeys(("node1", "node2"), events), attempts).ok
    altered = [dict(e) for e in events]
    altered[2] = {**altered[2], "data": {"writer": 1, "seq": 0, "k": 7}}
    verdict = check_histories({"node1": altered, "node2": altered}, attempts)
    assert "1 events altered: w1-s0-e0 in fault-1" in verdict.report()


# -- the live checker (the consoles') -----------------------------------------------------------

ORIGIN = 100  # the store's last position when the writers started


def _event(
    position: int, event_id: str, stream: str, number: int, temp: float = 21.5
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": "temperature_measured:v1",
        "stream_id": stream,
        "event_number": number,
        "position": position,
        "data": {"temperature": temp},
    }


def _store() -> list[dict[str, Any]]:
    """Positions 101-110: greenhouse-1 and -2 interleaved, a stranger's event at 105."""
    events = []
    numbers: dict[str, int] = {}
    for position in range(ORIGIN + 1, ORIGIN + 11):
        stream = "other" if position == 105 else f"greenhouse-{position % 2 + 1}"
        numbers[stream] = numbers.get(stream, -1) + 1
        events.append(_event(position, f"e{position}", stream, numbers[stream], position / 4))
    return events


def _ack_all(checker: LiveChecker, events: list[dict[str, Any]]) -> None:
    for e in events:
        if e["stream_id"] != "other":
            checker.acked(e["stream_id"], [e], e["event_number"], e["position"])


def _live(**held: list[dict[str, Any]]) -> LiveChecker:
    """Every ack of _store() recorded, then each node fed what it holds in pages of 3."""
    checker = LiveChecker(ORIGIN)
    nodes = {"node1": _store(), "node2": _store(), "node3": _store()} | held
    checker.members(nodes)
    _ack_all(checker, _store())
    for node_id, events in nodes.items():
        while page := [e for e in events if e["position"] > checker.cursor(node_id)][:3]:
            checker.observe(node_id, page)
    return checker


def test_live_checker_finds_nothing_on_a_clean_history() -> None:
    verdict = _live().verdict()
    assert verdict.ok, verdict.first
    assert (verdict.acked, verdict.checked) == (9, 9)
    assert _live().remembered() == (0, 30)  # every ack judged on every node: forgotten


def test_live_checker_judges_acks_that_arrive_after_the_reads() -> None:
    checker = LiveChecker(ORIGIN)
    checker.members(["node1", "node2", "node3"])
    for node_id in ("node1", "node2"):  # node3 is down: a majority still checks
        checker.observe(node_id, _store())
    _ack_all(checker, _store())
    verdict = checker.verdict()
    assert verdict.ok and verdict.checked == 9
    assert checker.remembered()[0] == 9  # kept until node3 is read
    checker.observe("node3", _store())
    assert checker.verdict().ok and checker.remembered()[0] == 0


def test_live_checker_finds_a_lost_ack() -> None:
    # node2 holds a stranger's event where e103 was acknowledged.
    held = [_event(103, "x", "other", 1) if e["position"] == 103 else e for e in _store()]
    verdict = _live(node2=held).verdict()
    assert verdict.lost == 1 and verdict.checked == 9  # node1 and node3 still hold it
    assert verdict.first is not None
    assert verdict.first.text() == (
        "lost: greenhouse-2 e103 on node2 (acknowledged at 103, which holds other x)"
    )


def test_live_checker_finds_a_duplicate() -> None:
    events = _store()
    copy = {**events[1], "position": 111}  # e102 again, at 111
    verdict = _live(node3=[*events, copy]).verdict()
    assert verdict.duplicated == 1
    assert verdict.first is not None and verdict.first.kind == "duplicated"
    assert (verdict.first.stream, verdict.first.event_id) == ("greenhouse-1", "e102")
    assert "at positions 102 and 111" in verdict.first.detail


def test_live_checker_finds_a_reordering() -> None:
    # e104 and e106 (both greenhouse-1) swapped on every node: their numbers say so too.
    events = _store()
    a, b = events[3], events[5]
    swapped = list(events)
    swapped[3] = {**b, "position": 104, "event_number": a["event_number"]}
    swapped[5] = {**a, "position": 106, "event_number": b["event_number"]}
    verdict = _live(node1=swapped, node2=swapped, node3=swapped).verdict()
    assert verdict.misordered == 6 and verdict.lost == 0
    assert verdict.first is not None and verdict.first.kind == "order"
    assert verdict.first.text() == "order: greenhouse-1 e104 on node1 (acknowledged at 104, at 106)"


def test_live_checker_finds_a_wrong_number_and_an_altered_payload() -> None:
    events = _store()
    renumbered = [{**e, "event_number": 9} if e["position"] == 107 else e for e in events]
    verdict = _live(node1=renumbered).verdict()
    assert verdict.first is not None and verdict.first.kind == "order"
    assert "acknowledged as greenhouse-2 #2, held as greenhouse-2 #9" in verdict.first.detail
    altered = [{**e, "data": {"temperature": 99.0}} if e["position"] == 108 else e for e in events]
    verdict = _live(node2=altered).verdict()
    assert verdict.altered == 1 and verdict.first is not None
    assert verdict.first.text().startswith("altered: greenhouse-1 e108 on node2")


def test_live_checker_finds_a_divergent_node() -> None:
    # Not an acknowledged event: only the comparison of the nodes can tell.
    held = [{**e, "data": {"temperature": 0.0}} if e["position"] == 105 else e for e in _store()]
    verdict = _live(node3=held).verdict()
    assert verdict.diverged == 1 and verdict.lost == verdict.altered == 0
    assert verdict.first is not None
    assert (
        verdict.first.text()
        == "diverged: other e105 on node3 (position 105; node1 holds other e105)"
    )


def test_live_checker_memory_is_bounded() -> None:
    checker = LiveChecker(0, keep=50)
    checker.members(["node1", "node2", "node3"])
    for position in range(1, 1001):
        event = _event(position, f"e{position}", "greenhouse-1", position - 1)
        checker.acked("greenhouse-1", [event], position - 1, position)
        checker.observe("node1", [event])  # node2 and node3 are down all along
    acks, events = checker.remembered()
    assert acks == 50 and events == 50
    verdict = checker.verdict()
    assert verdict.ok and verdict.acked == 1000 and verdict.checked == 0  # no majority read


def test_the_live_checker_replays_a_finished_run() -> None:
    """replay_live: what the fault tests run beside check_histories."""
    attempts = _attempts()
    good = {n: _history(GOOD, attempts) for n in ("node1", "node2", "node3")}
    verdict = replay_live(good, attempts)
    assert verdict.ok and verdict.checked == verdict.acked == 4  # the acknowledged events
    lost = dict(good, node2=_history([i for i in GOOD if i != "w1-s0-e0"], attempts))
    verdict = replay_live(lost, attempts)
    assert verdict.first is not None and verdict.first.kind == "lost", verdict
    assert (verdict.first.node, verdict.first.event_id) == ("node2", "w1-s0-e0")
