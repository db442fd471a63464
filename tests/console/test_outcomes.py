"""Outcomes (console/ops/outcomes.py): each operation's result worded once, for both consoles,
and a failure worded once (the menu shell prints these lines, the dashboard toasts them)."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from console.ops import outcomes
from console.ops.cluster import ClusterStatus, LinksResult, NodeActionResult
from console.ops.errors import OpsError, failure_text
from console.repl.printer import Printer
from engine.client import GateError
from tests.tui.recorded import HEALTHY, node

HINT = "(option 19 starts a node)"


def _result(action: str, **fields: object) -> NodeActionResult:
    values: dict[str, object] = {
        "node_id": "node1",
        "action": action,
        "was_leader": False,
        "settled": True,
        "elapsed": 1.23,
        "leader": "node2",
        "term": 4,
    }
    values.update(fields)
    return NodeActionResult(**values)


@pytest.mark.parametrize(
    ("result", "line", "detail"),
    [
        (_result("stop"), "✅ Stopped node1; leader node2 (term 4)", None),
        (
            _result("kill", was_leader=True),
            "✅ Killed node1 (the leader); node2 took over in 1.2 s (term 4)",
            None,
        ),
        (
            _result("pause", was_leader=True, settled=False, leader=None),
            "⚠️  Paused node1 (the leader); no new leader after 1 s",
            None,
        ),
        (
            _result("start", settled=False, leader=None),
            "⚠️  Started node1, but the cluster has not settled yet; no leader",
            None,
        ),
        (_result("resume"), "✅ Resumed node1; leader node2 (term 4)", None),
        (_result("restart"), "✅ Restarted node1; leader node2 (term 4)", None),
        (
            _result("kill", was_leader=True, no_majority="no majority: 1 of 3 nodes up"),
            "⚠️  Killed node1 (the leader); no majority: 1 of 3 nodes up",
            f"Until one is back no leader is elected and nothing is written {HINT}",
        ),
    ],
)
def test_node_action_outcomes(result: NodeActionResult, line: str, detail: str | None) -> None:
    outcome = outcomes.node_action_done(result, HINT)
    assert (outcome.line, outcome.detail) == (line, detail)


def test_operation_summaries() -> None:
    lines = [
        outcomes.observer_created("all", {"by_stream": "$all"}),
        outcomes.observer_created("one", {"by_stream": "$greenhouse-1"}),
        outcomes.observer_created("t", {"by_event_type": "temperature_measured:v1"}),
        outcomes.observer_created("p", {"by_event_payload": {"operator": "John"}}),
        outcomes.producers_started(["greenhouse-1"], "5.0/s"),
        outcomes.producers_started(["greenhouse-1", "greenhouse-2"], "5.0/s"),
        outcomes.subscription_created("s", "$greenhouse-1", 0, created=True),
        outcomes.subscription_created("s", "$all", "origin", created=False),
        outcomes.parked_replayed("s", 0, "option 26 parks some with nack_park"),
        outcomes.parked_replayed("s", 2, "option 26 parks some with nack_park"),
        outcomes.snapshot_taken("greenhouse-1", 12),
        outcomes.kept("node1 left as it was"),
    ]
    assert [outcome.line for outcome in lines] == [
        "✅ Observer 'all' created for stream '$all'",
        "✅ Observer 'one' created for stream 'greenhouse-1'",
        "✅ Observer 't' created for event type 'temperature_measured:v1'",
        "✅ Observer 'p' created for payload pattern %{operator: \"John\"}",
        "✅ Started 1 producer: greenhouse-1 (5.0/s each)",
        "✅ Started 2 producers: greenhouse-1, greenhouse-2 (5.0/s each)",
        "✅ Subscription 's' created on 'greenhouse-1' from 0",
        "✅ Subscription 's' exists with this definition already",
        "⚠️  's' has no parked events (option 26 parks some with nack_park)",
        "✅ Replaying the 2 parked events of 's'",
        "✅ Snapshot of 'greenhouse-1' recorded at version 12",
        "↩️  node1 left as it was",
    ]


def test_the_shell_prints_an_outcome_and_its_detail() -> None:
    written = io.StringIO()
    Printer(stream=written).outcome(outcomes.warn("half done", "why, in a quieter line"))
    assert written.getvalue() == "⚠️  half done\nwhy, in a quieter line\n"


def test_failures_are_worded_for_people() -> None:
    assert failure_text(OpsError("no node 'x' in this cluster")) == "no node 'x' in this cluster"
    assert failure_text(GateError("stream_not_found", "no stream x")) == (
        "no stream x (stream_not_found)"
    )
    assert failure_text(GateError("unavailable", "no leader")) == (
        "The engine is not answering: no leader"
    )
    assert failure_text(GateError("unauthorized", "bad token")).startswith(
        "The gateway refused the token"
    )


class _Cluster:
    """How many nodes are up, as ``ClusterOps.status`` answers it (or the gateway away too)."""

    def __init__(self, status: ClusterStatus | None) -> None:
        self._status = status

    async def status(self) -> ClusterStatus:
        if self._status is None:
            raise GateError("unavailable", "cannot reach the gateway")
        return self._status


async def test_a_failure_for_want_of_a_majority_says_so() -> None:
    one_up = ClusterStatus(
        None,
        3,
        (
            node("node1", "follower"),
            node("node2", "down", up=False),
            node("node3", "down", up=False),
        ),
    )
    exc = GateError("unavailable", "no leader")
    outcome = await outcomes.failed(exc, _Cluster(one_up), HINT)
    assert outcome.line == f"❌ no majority: 1 of 3 nodes up, 2 are needed {HINT}"
    assert outcome.detail == "The engine is not answering: no leader"
    # Enough nodes up, or no answer at all: the failure's own words.
    outcome = await outcomes.failed(exc, _Cluster(HEALTHY), HINT)
    assert (outcome.line, outcome.detail) == ("❌ The engine is not answering: no leader", None)
    outcome = await outcomes.failed(exc, _Cluster(None), HINT)
    assert outcome.line == "❌ The engine is not answering: no leader"
    bad = OpsError("no subscription named 'x'")
    outcome = await outcomes.failed(bad, _Cluster(HEALTHY), HINT)
    assert outcome.line == "❌ no subscription named 'x'"


def test_an_isolate_that_leaves_no_majority_says_no_leader_until_it_heals() -> None:
    """node1 down, node2 (the leader) cut off: node3 alone cannot elect anyone, so "writes go
    to a leader the others elect" would be wrong."""
    before = node("node2", "leader")
    after = replace(before, isolated=True, cut_in=("node1", "node3"), cut_out=("node1", "node3"))
    alone = LinksResult(before, after, True, "no majority: 1 of 3 nodes up, 2 are needed")
    cut = outcomes.links_cut(alone, "option 31")
    assert cut.line == (
        "⚠️  node2 isolated (the leader): it steps down (no quorum); no leader until it heals "
        "(no majority: 1 of 3 nodes up, 2 are needed)"
    )
    assert cut.detail == "option 31 heals it"
    enough = outcomes.links_cut(LinksResult(before, after, True), "option 31")
    assert enough.line == "✅ node2 isolated (the leader): it steps down (no quorum)"
    assert enough.detail == "Writes go to a leader the others elect; option 31 heals it"
