"""Typed answers are checked in the operations layer the moment they are given (issue #15,
point 9): picks, known names, yes/no, stream ids, directions, consumer actions, node defaults."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import pytest

from console.ops.answers import known_name, listed, pick, yes_or_no
from console.ops.cluster import ClusterStatus, NodeRow
from console.ops.errors import OpsError
from console.ops.observers import ObserverRegistry, stream_selector
from console.ops.streams import (
    NewStreamError,
    check_event,
    check_first_event,
    existing_stream,
    parse_direction,
    stream_id,
)
from console.ops.subscriptions import parse_action
from engine.client import GateClient


def test_picks_by_name_or_listed_number() -> None:
    assert pick("2", ["a", "b"]) == "b" and pick(" a ", ["a", "b"]) == "a"
    with pytest.raises(OpsError, match="not one of the 2 listed"):
        pick("c", ["a", "b"])
    # Arabic-Indic digits and thousands of digits are not a pick (int() would take or refuse them).
    for answer in ("٢", "9" * 5000, "0", "3"):
        with pytest.raises(OpsError, match="not one of the 2 listed"):
            pick(answer, ["a", "b"])


def test_known_names_say_which_there_are() -> None:
    assert known_name(" sub ", ["sub", "other"], "subscription") == "sub"
    with pytest.raises(OpsError, match=r"^no subscription named 'x' \(subscriptions: none\)$"):
        known_name("x", [], "subscription")
    many = [f"s{i}" for i in range(20)]
    assert listed(many) == "s0, s1, s2, s3, s4, s5, s6, s7 … (20 in all)"


@pytest.mark.parametrize(("answer", "yes"), [("y", True), ("YES", True), ("", False), ("n", False)])
def test_yes_or_no(answer: str, yes: bool) -> None:
    assert yes_or_no(answer) is yes


def test_anything_else_is_not_yes_or_no() -> None:
    with pytest.raises(OpsError, match=r"^type y or n, not 'maybe'$"):
        yes_or_no("maybe")


def test_stream_ids_follow_the_engine_rules() -> None:
    assert stream_id(" greenhouse-1 ") == "greenhouse-1"
    for bad, why in (
        ("", "a stream name is needed"),
        ("$all", "is not a stream id"),
        ("x" * 257, "at most 256 characters"),
        ("a\x07b", "control characters"),
    ):
        with pytest.raises(OpsError, match=why):
            stream_id(bad)
    assert stream_selector("$all") == {"by_stream": "$all"}
    assert stream_selector("$greenhouse-1") == {"by_stream": "$greenhouse-1"}
    with pytest.raises(OpsError, match="control characters"):
        stream_selector("green\x1bhouse")


def test_existing_streams_by_id_or_number() -> None:
    names = ["greenhouse-1", "greenhouse-2"]
    assert existing_stream("2", names) == "greenhouse-2"
    assert existing_stream("greenhouse-1", names) == "greenhouse-1"
    # Option 25 refuses $all at its first question, not after four.
    with pytest.raises(OpsError, match="'\\$all' is not a stream id"):
        existing_stream("$all", names)
    with pytest.raises(OpsError, match="no stream 'nope' yet \\(streams: greenhouse-1, green"):
        existing_stream("nope", names)


def test_directions() -> None:
    assert parse_direction("") == "forward" and parse_direction("B") == "backward"
    assert parse_direction("forw") == "forward"
    with pytest.raises(OpsError, match="'sideways' is not a direction"):
        parse_direction("sideways")


def test_consumer_actions_by_name_or_number() -> None:
    assert parse_action("") == "ack" and parse_action("3") == "nack_park"
    assert parse_action(" NACK_SKIP ") == "nack_skip"
    for bad in ("5", "park", "٣"):
        with pytest.raises(OpsError, match="unknown consumer action"):
            parse_action(bad)


def test_a_chosen_event_is_checked_before_it_is_sent() -> None:
    check_event("temperature_measured:v1", {"temperature": 21})
    with pytest.raises(OpsError):
        check_event("temperature_measured:v1", {"temperature": "warm"})
    check_first_event("gh-1", False, "initialized:v1")
    with pytest.raises(NewStreamError, match="its first event must be initialized:v1"):
        check_first_event("gh-1", False, "fan_activated:v1")
    with pytest.raises(OpsError, match="initialized already"):
        check_first_event("gh-1", True, "initialized:v1")


def test_a_new_observer_name_is_free_or_the_default() -> None:
    registry = ObserverRegistry(cast(GateClient, None), "reg_gh")
    selector = {"by_stream": "$all"}
    assert registry.new_name("", selector) == "reg_gh:$all"
    assert registry.new_name(" mine ", selector) == "mine"


_NODE = NodeRow(
    node_id="node1",
    role="follower",
    preferred=False,
    http_addr="127.0.0.1:8090",
    http_up=True,
    http_latency_ms=1.0,
    tcp_addr="127.0.0.1:8890",
    tcp_up=True,
    tcp_latency_ms=1.0,
    term=2,
    commit_position=5,
    applied_position=5,
    lag=0,
    fresh=True,
    managed=True,
    pid=1,
    state="running",
)


def _status(*states: str) -> ClusterStatus:
    """Nodes node1… in these states: running, paused or stopped (down)."""
    nodes = tuple(
        replace(
            _NODE,
            node_id=f"node{i}",
            http_up=state == "running",
            tcp_up=state == "running",
            state=state,
        )
        for i, state in enumerate(states, 1)
    )
    return ClusterStatus(leader="node1", term=2, nodes=nodes)


def test_start_and_resume_default_to_the_only_node_they_fit() -> None:
    assert _status("running", "stopped", "running").default_node("start") == "node2"
    assert _status("running", "stopped", "stopped").default_node("start") is None
    assert _status("running", "running", "running").default_node("start") is None
    # A paused node is not started but resumed.
    paused = _status("running", "paused", "stopped")
    assert paused.default_node("start") == "node3"
    assert paused.default_node("resume") == "node2"
    assert _status("running", "paused", "paused").default_node("resume") is None
    assert paused.default_node("stop") is None  # stop, kill...: the leader, named when done
