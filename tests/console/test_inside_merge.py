"""The nodes' inside merged over the cluster view (console/ops/inside.py): the inside columns
come from the feed; up/down, leader, lag and freshness stay the view's; a node the feed has no
word of keeps the view's values."""

from __future__ import annotations

from typing import Any

from console.ops.cluster import ClusterStatus, FollowerProgress
from console.ops.inside import merge_inside
from tests.inside_data import node_inside


def node_view(node_id: str, role: str, term: int, elapsed: int) -> dict[str, Any]:
    return {
        "node_id": node_id,
        "role": role,
        "http": {"addr": "127.0.0.1:1", "up": role != "down"},
        "tcp": {"addr": "127.0.0.1:2", "up": role != "down"},
        "term": term,
        "commit_position": 10,
        "applied_position": 10,
        "lag": 0,
        "fresh": True,
        "log": {"first_index": 1, "last_index": 10},
        "voted_for": "node1",
        "election_timer": {"elapsed_ms": elapsed, "timeout_ms": 400},
        "uptime_s": 12.0,
    }


VIEW = ClusterStatus.from_view(
    {  # type: ignore[typeddict-item]
        "leader": "node1",
        "term": 2,
        "nodes": [
            node_view("node1", "leader", 2, 0),
            node_view("node2", "follower", 2, 50),
            node_view("node3", "down", 2, 0),
        ],
    }
)


def fresh(role: str, term: int, elapsed: int, **more: Any) -> dict[str, Any]:
    return node_inside(
        role, term, elapsed, timeout=520, leader=None, voted_for="node2",
        commit=12, applied=11, first=3, last=13, **more,
    )  # fmt: skip


def test_the_inside_columns_come_from_the_feed() -> None:
    merged = merge_inside(VIEW, {"node2": fresh("candidate", 3, 480)})
    node2 = merged.node("node2")
    assert (node2.role, node2.term, node2.voted_for) == ("candidate", 3, "node2")
    assert (node2.commit_position, node2.applied_position) == (12, 11)
    assert (node2.log_first, node2.log_last) == (3, 13)
    assert (node2.timer_elapsed_ms, node2.timer_timeout_ms) == (480, 520)
    assert node2.timer_words == "times out in 40/520 ms"
    # The view's: whether it is up, its lag and freshness, its uptime; the leader and term.
    assert node2.http_up and node2.lag == 0 and node2.fresh and node2.uptime_s == 12.0
    assert (merged.leader, merged.term) == ("node1", 2)
    # A node the feed has no word of keeps the view's values.
    assert merged.node("node1") == VIEW.node("node1")


def test_a_node_down_in_the_view_stays_down() -> None:
    merged = merge_inside(VIEW, {"node3": fresh("follower", 3, 100)})
    assert merged.node("node3") == VIEW.node("node3")


def test_the_leaders_match_and_next_come_from_the_feed() -> None:
    progress = {"node2": {"match": 12, "next": 13, "state": "replicate"}}
    merged = merge_inside(VIEW, {"node1": fresh("leader", 2, 0, progress=progress)})
    assert merged.node("node1").progress == (FollowerProgress("node2", 12, 13, "replicate"),)
    assert merged.match_next("node2") == "leader node1: match 12, next 13"
    assert merge_inside(VIEW, {}) == VIEW
