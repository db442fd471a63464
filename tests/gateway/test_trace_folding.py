"""How the gateway folds an interval's Raft messages into lines (engine/gateway/trace.py)."""

from __future__ import annotations

import random
from typing import Any

from engine.gateway.trace import TraceFolder


def msg(
    kind: str, frm: str, to: str, t: float, direction: str = "send", **fields: Any
) -> dict[str, Any]:
    return {
        "node": frm if direction == "send" else to,
        "seq": 0,
        "time": t,
        "dir": direction,
        "type": kind,
        "frm": frm,
        "to": to,
        "term": 3,
        **fields,
    }


def append(frm: str, to: str, t: float, entries: int, direction: str = "send") -> dict[str, Any]:
    return msg(
        "append", frm, to, t, direction, prev_index=10, prev_term=3, entries=entries, commit=9
    )


def answer(frm: str, to: str, t: float, match: int, success: bool = True) -> dict[str, Any]:
    return msg("append_response", frm, to, t, success=success, match_index=match, reject_hint=0)


def folder(**kw: Any) -> TraceFolder:
    return TraceFolder(**({"detail": 10, "fold_heartbeats": True, "received": False} | kw))


def test_a_quiet_interval_folds_heartbeats_into_one_line() -> None:
    f = folder()
    # The first answer on a link sets its match; the same match again confirms nothing new.
    assert [ln["kind"] for ln in f.lines([answer("node2", "node1", 0.0, 40)], 0.5)] == ["message"]
    records = []
    for i in range(6):
        records += [append("node1", "node2", i, 0), answer("node2", "node1", i + 0.1, 40)]
    lines = f.lines(records, 0.5)
    assert lines == [{"kind": "heartbeats", "time": 0, "count": 12, "nodes": ["node1", "node2"]}]


def test_heartbeats_show_when_asked() -> None:
    records = [append("node1", "node2", 0.0, 0), append("node1", "node3", 0.0, 0)]
    lines = folder(fold_heartbeats=False).lines(records, 0.5)
    assert [(ln["kind"], ln["to"]) for ln in lines] == [("message", "node2"), ("message", "node3")]


def test_an_election_is_listed_message_by_message_in_order() -> None:
    records = [
        msg(
            "vote",
            "node2",
            "node1",
            1.0,
            last_log_index=95,
            last_log_term=3,
            pre_vote=False,
            transfer=False,
        ),
        msg(
            "vote",
            "node2",
            "node3",
            1.0,
            last_log_index=95,
            last_log_term=3,
            pre_vote=False,
            transfer=False,
        ),
        msg("vote_response", "node3", "node2", 1.1, granted=True, pre_vote=False),
        append("node2", "node3", 1.2, 1),
    ]
    lines = folder().lines(records, 0.5)
    assert [ln["kind"] for ln in lines] == ["message"] * 4
    assert [ln["type"] for ln in lines] == ["vote", "vote", "vote_response", "append"]
    assert lines[2]["granted"] is True


def test_received_copies_are_left_out_unless_asked_for() -> None:
    records = [append("node1", "node2", 0.0, 3), append("node1", "node2", 0.01, 3, "recv")]
    assert len(folder().lines(records, 0.5)) == 1
    lines = folder(received=True).lines(records, 0.5)
    assert [ln["dir"] for ln in lines] == ["send", "recv"]


def test_a_full_write_rate_is_summed_up_per_link_and_type() -> None:
    rng = random.Random(3)
    records = []
    match = {"node2": 0, "node3": 0}
    for i in range(340):
        for peer in ("node2", "node3"):
            n = rng.randint(1, 40)
            records.append(append("node1", peer, i / 340, n))
            match[peer] += n
            records.append(answer(peer, "node1", i / 340 + 0.001, match[peer], success=i != 7))
    lines = folder().lines(records, 1.0)
    assert len(lines) == 4
    by = {(ln["type"], ln["frm"], ln["to"]): ln for ln in lines}
    appends = by[("append", "node1", "node2")]
    assert (
        appends["kind"] == "summary" and appends["count"] == 340 and appends["per_second"] == 340.0
    )
    assert appends["entries_min"] == 1 and appends["entries_max"] == 40
    answers = by[("append_response", "node2", "node1")]
    assert answers["count"] == 340 and answers["rejected"] == 1
    assert answers["match_index"] == match["node2"]


def test_a_first_batch_of_history_is_rated_over_its_own_span() -> None:
    """A new watch's first batch holds seconds of each node's past: 200 heartbeats from 10 s
    are 20 a second, not 200 over a 0.1 s interval."""
    records = [append("node1", "node2", i / 20, 3) for i in range(200)]
    (line,) = folder(fold_heartbeats=False, detail=50).lines(records, 0.1)
    assert line["kind"] == "summary" and line["per_second"] == 20.1, line


def test_missed_messages_are_named_per_node() -> None:
    lines = folder().lines([], 0.5, {"node1": 0, "node3": 12})
    assert lines == [{"kind": "missed", "node": "node3", "count": 12}]


def test_folded_heartbeats_take_their_place_in_time() -> None:
    """A slowed election: the new leader's first heartbeats come after its votes, and the
    diagram, read top-down, says so (the folded line used to open every interval)."""
    vote = {"last_log_index": 4, "last_log_term": 1, "pre_vote": False, "transfer": False}
    records = [
        msg("vote", "node3", "node2", 1.0, **vote),
        msg("vote_response", "node2", "node3", 1.1, granted=True, pre_vote=False),
        append("node3", "node2", 1.4, 0),
    ]
    lines = folder().lines(records, 0.5)
    assert [ln["kind"] for ln in lines] == ["message", "message", "heartbeats"]
    assert [ln["time"] for ln in lines] == [1.0, 1.1, 1.4]
