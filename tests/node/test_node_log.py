"""The node's log ring: bounded, in order, paged with ``after``; bad pages refused."""

from __future__ import annotations

import itertools

import pytest

from engine.node.node_log import NodeLog, log_page
from engine.protocol.errors import GateError


def _ring(capacity: int, lines: int) -> NodeLog:
    clock = itertools.count(1000)
    ring = NodeLog("node2", capacity, clock=lambda: float(next(clock)))
    for i in range(1, lines + 1):
        ring.add("vote", f"line {i}", "warning" if i % 2 else "info")
    return ring


def _texts(page: dict[str, object]) -> list[str]:
    lines = page["lines"]
    assert isinstance(lines, list)
    return [line["text"] for line in lines]


def test_without_after_the_newest_lines_oldest_first() -> None:
    page = _ring(10, 7).page(limit=3)
    assert _texts(page) == ["line 5", "line 6", "line 7"]
    assert page["last_seq"] == 7 and page["missed"] == 0 and page["node_id"] == "node2"
    assert page["started_at"] == 1000.0
    assert page["lines"][0] == {  # type: ignore[index]
        "seq": 5,
        "time": 1005.0,
        "level": "warning",
        "kind": "vote",
        "text": "line 5",
    }


def test_after_pages_forward_without_gaps_or_repeats() -> None:
    ring = _ring(100, 25)
    seen: list[str] = []
    after = 0
    while True:
        page = ring.page(after, limit=10)
        if not page["lines"]:
            break
        seen += _texts(page)
        after = page["lines"][-1]["seq"]  # type: ignore[index]
    assert seen == [f"line {i}" for i in range(1, 26)]
    ring.add("term", "line 26")
    assert _texts(ring.page(after)) == ["line 26"]


def test_the_ring_is_bounded_and_says_what_a_reader_missed() -> None:
    ring = _ring(5, 12)
    assert _texts(ring.page(limit=100)) == [f"line {i}" for i in range(8, 13)]
    page = ring.page(after=3, limit=2)
    assert _texts(page) == ["line 8", "line 9"]
    assert page["missed"] == 4  # lines 4-7 fell out of the ring
    assert ring.page(after=12)["lines"] == [] and ring.page(after=12)["missed"] == 0
    assert ring.page(after=40)["lines"] == []  # a reader from before a restart


def test_an_empty_ring() -> None:
    page = NodeLog("node1").page(after=0)
    assert page["lines"] == [] and page["last_seq"] == 0 and page["missed"] == 0


@pytest.mark.parametrize("limit", [0, 1001, -1, "5", True, 2.5])
def test_a_bad_limit_is_a_clear_invalid_request(limit: object) -> None:
    with pytest.raises(GateError) as caught:
        log_page(NodeLog("node1"), None, limit)
    assert caught.value.code == "invalid_request"
    assert caught.value.message == "limit must be a whole number from 1 to 1000"


def test_a_negative_after_is_refused() -> None:
    with pytest.raises(GateError, match="after must be a whole number, at least 0"):
        log_page(NodeLog("node1"), -1, 10)
