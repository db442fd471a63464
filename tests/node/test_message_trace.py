"""The node's ring of Raft messages: what each record holds, bounds, paging."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from engine.node.trace import MAX_LIMIT, MessageTrace, trace_page
from engine.protocol.errors import GateError
from engine.protocol.raft_trace import FIELDS, expand
from engine.replication.messages import (
    AppendRequest,
    AppendResponse,
    Entry,
    Message,
    Removed,
    Snapshot,
    SnapshotRequest,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)

ONE_OF_EACH: list[Message] = [
    VoteRequest(4, "node2", "node1", 95, 3, pre_vote=True),
    VoteResponse(4, "node1", "node2", True, pre_vote=True),
    AppendRequest(4, "node2", "node3", 95, 3, (Entry(96, 4, b""), Entry(97, 4, b"{}")), 94),
    AppendResponse(4, "node3", "node2", False, 90, reject_hint=88),
    SnapshotRequest(4, "node2", "node3", Snapshot(2002, 3)),
    TimeoutNow(5, "node2", "node1"),
    Removed(5, "node1", "node4", 812),
]


def test_each_message_type_is_recorded_with_its_fields() -> None:
    now = [1000.0]
    trace = MessageTrace("node2", 16, clock=lambda: now[0])
    trace.sent(ONE_OF_EACH[:3])
    now[0] = 1000.5
    trace.received(ONE_OF_EACH[3:])
    page = trace.page()
    items = [expand("node2", r) for r in page["messages"]]
    assert [i["seq"] for i in items] == [1, 2, 3, 4, 5, 6, 7]
    assert [i["dir"] for i in items] == ["send"] * 3 + ["recv"] * 4
    assert [i["time"] for i in items] == [1000.0] * 3 + [1000.5] * 4
    assert [i["type"] for i in items] == list(FIELDS)
    assert items[0] == {
        "node": "node2",
        "seq": 1,
        "time": 1000.0,
        "dir": "send",
        "type": "vote",
        "frm": "node2",
        "to": "node1",
        "term": 4,
        "last_log_index": 95,
        "last_log_term": 3,
        "pre_vote": True,
        "transfer": False,
    }
    assert items[1]["granted"] is True
    append = items[2]
    assert (append["prev_index"], append["prev_term"], append["entries"], append["commit"]) == (
        95,
        3,
        2,
        94,
    )
    answer = items[3]
    assert (answer["success"], answer["match_index"], answer["reject_hint"]) == (False, 90, 88)
    assert (items[4]["index"], items[4]["snapshot_term"]) == (2002, 3)
    assert items[5]["term"] == 5
    assert (items[6]["term"], items[6]["index"]) == (5, 812)


def test_the_ring_is_bounded_and_a_reader_is_told_what_it_missed() -> None:
    trace = MessageTrace("node1", 100)
    for _ in range(25):
        trace.sent(ONE_OF_EACH[:6])  # 6 a round: seq 6k+1..6k+6
    assert len(trace) == 100 and trace.last_seq == 150
    page = trace.page(after=10, limit=MAX_LIMIT)
    assert page["missed"] == 40  # 11..50 are gone
    assert [r[0] for r in page["messages"]] == list(range(51, 151))
    assert trace.page(after=140, limit=5)["messages"][0][0] == 141
    assert len(trace.page(after=140, limit=5)["messages"]) == 5
    assert trace.page(after=150)["messages"] == []
    assert [r[0] for r in trace.page(limit=3)["messages"]] == [148, 149, 150]


def test_a_zero_capacity_records_nothing() -> None:
    trace = MessageTrace("node1", 0)
    trace.sent(ONE_OF_EACH)
    assert len(trace) == 0 and trace.last_seq == 0
    assert trace.page(after=0)["messages"] == []


def test_memory_stays_bounded_at_full_rate() -> None:
    """Half a million messages, far past the ring, hold only the ring's small tuples: its size
    does not grow once full, and no entry's data is kept (each append here carries 80 kB)."""
    rng = random.Random(7)

    def batch() -> list[Message]:
        entries = tuple(Entry(i, 3, bytes(2000)) for i in range(1, 41))
        to = f"node{rng.randint(2, 3)}"
        return [
            AppendRequest(3, "node1", to, 0, 0, entries, 0),
            AppendResponse(3, to, "node1", True, 40),
        ]

    tracemalloc.start()
    trace = MessageTrace("node1", 4096)
    for _ in range(4096):
        trace.sent(batch())
    full = tracemalloc.get_traced_memory()[0]
    messages = batch()
    for _ in range(250_000):
        trace.sent(messages)
    grown = tracemalloc.get_traced_memory()[0] - full
    tracemalloc.stop()
    assert len(trace) == 4096
    assert full < 2 * 1024 * 1024, f"a full ring holds {full} bytes"
    assert grown < 64 * 1024, f"the ring grew by {grown} bytes once full"


@pytest.mark.parametrize(
    ("after", "limit", "field"),
    [(None, 0, "limit"), (None, MAX_LIMIT + 1, "limit"), (None, True, "limit"), (-1, 5, "after")],
)
def test_a_bad_page_request_names_its_field(after: object, limit: object, field: str) -> None:
    with pytest.raises(GateError) as caught:
        trace_page(MessageTrace("node1", 10), after, limit)
    assert caught.value.code == "invalid_request"
    assert field in caught.value.message


def test_expand_refuses_what_is_not_a_record() -> None:
    for bad in ([1, 2.0, "send"], [1, 2.0, "sideways", "vote", "a", "b", 1, 0, 0, False, False]):
        with pytest.raises(ValueError):
            expand("node1", bad)


def test_a_page_of_one_direction_says_how_far_it_read() -> None:
    trace = MessageTrace("node1", 100)
    for _ in range(10):
        trace.sent(ONE_OF_EACH[:2])  # seq 2k+1, 2k+2
        trace.received(ONE_OF_EACH[2:3])  # seq 3k+3
    page = trace.page(after=0, limit=4, direction="recv")
    assert [r[0] for r in page["messages"]] == [3, 6, 9, 12]
    assert page["until"] == 14  # the next received one is 15
    rest = trace.page(after=page["until"], limit=100, direction="recv")
    assert [r[0] for r in rest["messages"]] == [15, 18, 21, 24, 27, 30]
    assert rest["until"] == 30
    assert [r[0] for r in trace.page(limit=2, direction="send")["messages"]] == [28, 29]
    with pytest.raises(GateError):
        trace_page(trace, 0, 5, "sideways")
