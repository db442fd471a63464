"""The timeline's words across recorded samples: a node back with some lag reads "caught up"
once its lag reaches 0, however many samples later (issue #15)."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import RichLog

from console.ops.cluster import ClusterStatus, HealthSample, NodeRow
from console.tui.app import GateConsole
from console.tui.cluster.timeline import Timeline, elapsed_text
from console.tui.status_bar import status_text
from tests.tui.recorded import CATCHING_UP, CAUGHT_UP, FAILOVER, HEALTHY, RecordedOps, node
from tests.tui.test_snapshots import settle


def _status(leader: str | None, term: int, *nodes: NodeRow) -> ClusterStatus:
    return ClusterStatus(leader, term, nodes)


def _play(*samples: ClusterStatus) -> list[list[str]]:
    timeline = Timeline()
    return [timeline.note(sample) for sample in samples]


def _with_lag(row: NodeRow, lag: int | None) -> NodeRow:
    return replace(row, lag=lag)


def test_a_follower_back_with_a_small_lag_reads_caught_up_when_it_reaches_0() -> None:
    node2 = HEALTHY.nodes[1]
    down = replace(
        HEALTHY, nodes=(HEALTHY.nodes[0], node("node2", "follower", up=False), HEALTHY.nodes[2])
    )
    back = [
        replace(HEALTHY, nodes=(HEALTHY.nodes[0], _with_lag(node2, lag), HEALTHY.nodes[2]))
        for lag in (5, 2, 0, 0)
    ]
    assert _play(HEALTHY, down, *back)[1:] == [
        ["node2 down (was follower)"],
        ["node2 back up, catching up (lag 5)"],
        [],
        ["node2 caught up"],
        [],  # said once
    ]


def test_a_restarted_former_leader_catches_up_after_the_failover() -> None:
    said = _play(*FAILOVER)
    assert said[3] == ["node1 back up, catching up (lag 28)"]
    assert said[4] == ["node1 caught up"]


def test_a_former_leader_back_with_its_lag_unknown_reads_caught_up_later() -> None:
    unknown = replace(
        CATCHING_UP, nodes=(_with_lag(CATCHING_UP.nodes[0], None), *CATCHING_UP.nodes[1:])
    )
    some = replace(CATCHING_UP, nodes=(_with_lag(CATCHING_UP.nodes[0], 3), *CATCHING_UP.nodes[1:]))
    said = _play(*FAILOVER[:3], unknown, some, CAUGHT_UP)
    assert said[3] == ["node1 back up"]
    assert said[4] == []
    assert said[5] == ["node1 caught up"]


def test_a_node_restarted_between_two_looks_reads_restarted_then_caught_up() -> None:
    leader, node2, node3 = HEALTHY.nodes
    restarted = replace(node2, pid=9999, lag=7)
    said = _play(
        HEALTHY,
        _status("node1", 3, leader, restarted, node3),
        _status("node1", 3, leader, replace(restarted, lag=0), node3),
    )
    assert said[1:] == [["node2 restarted, catching up (lag 7)"], ["node2 caught up"]]


def test_a_node_that_goes_down_while_catching_up_is_not_said_to_catch_up() -> None:
    leader, node2, node3 = HEALTHY.nodes
    gone = node("node2", "follower", up=False)
    said = _play(
        HEALTHY,
        _status("node1", 3, leader, gone, node3),
        _status("node1", 3, leader, _with_lag(node2, 40), node3),
        _status("node1", 3, leader, gone, node3),
        _status("node1", 3, leader, replace(node2, pid=None, lag=0), node3),
    )
    assert said[2] == ["node2 back up, catching up (lag 40)"]
    assert said[4] == ["node2 back up, caught up"]
    assert "node2 caught up" not in [s for sentences in said for s in sentences]


def test_a_follower_that_fell_far_behind_while_up_reads_caught_up() -> None:
    leader, node2, node3 = HEALTHY.nodes
    said = _play(
        HEALTHY,
        _status("node1", 3, leader, _with_lag(node2, 25), node3),
        _status("node1", 3, leader, _with_lag(node2, 9), node3),
        _status("node1", 3, leader, node2, node3),
    )
    assert said[1:] == [["node2 fell behind (lag 25), catching up"], [], ["node2 caught up"]]


def test_a_follower_behind_again_and_again_is_said_behind_each_time_before_caught_up() -> None:
    """A lossy link keeps a follower falling behind: each "caught up" follows its "behind"."""
    leader, node2, node3 = HEALTHY.nodes
    behind = _status("node1", 3, leader, _with_lag(node2, 40), node3)
    whole = _status("node1", 3, leader, node2, node3)
    said = _play(HEALTHY, behind, behind, whole, behind, whole)
    assert said[1:] == [
        ["node2 fell behind (lag 40), catching up"],
        [],
        ["node2 caught up"],
        ["node2 fell behind (lag 40), catching up"],
        ["node2 caught up"],
    ]


def test_no_caught_up_without_a_leader() -> None:
    leader, node2, node3 = HEALTHY.nodes
    said = _play(
        HEALTHY,
        _status("node1", 3, leader, node("node2", "follower", up=False), node3),
        _status("node1", 3, leader, _with_lag(node2, 4), node3),
        _status(None, 4, node("node1", "leader", up=False), node2, node3),
    )
    assert "node2 caught up" not in said[3]


def test_a_full_disk_is_named_once_and_its_end_said() -> None:
    node2 = HEALTHY.nodes[1]
    full = replace(node2, disk_full="disk full (data/node2: 3 MB free)")
    samples = [
        replace(HEALTHY, nodes=(HEALTHY.nodes[0], row, HEALTHY.nodes[2]))
        for row in (node2, full, full, node2)
    ]
    assert _play(*samples)[1:] == [
        ["node2: disk full (data/node2: 3 MB free), takes no new entries"],
        [],
        ["node2: disk space back, takes new entries"],
    ]


def test_a_node_the_gateway_restarted_between_two_looks_says_how_it_died() -> None:
    leader, node2, node3 = HEALTHY.nodes
    restarted = replace(node2, pid=9999, lag=4, restarts=1, exit_code=-9)
    said = _play(
        HEALTHY,
        _status("node1", 3, leader, restarted, node3),
        _status("node1", 3, leader, replace(restarted, lag=0), node3),
    )
    assert said[1:] == [
        ["node2 exited unexpectedly (signal 9): restarted (restart 1)"],
        ["node2 caught up"],
    ]


def test_a_gateway_restart_seen_down_then_back() -> None:
    # Sampled while the new process starts (down, already counted), then when it answers.
    leader, node2, node3 = HEALTHY.nodes
    starting = replace(node("node2", "follower", up=False), restarts=2, exit_code=70)
    said = _play(
        _status("node1", 3, leader, replace(node2, restarts=1, exit_code=-9), node3),
        _status("node1", 3, leader, starting, node3),
        _status("node1", 3, leader, replace(node2, lag=0, restarts=2, exit_code=70), node3),
    )
    assert said[1:] == [
        ["node2 exited unexpectedly (code 70): restarted (restart 2)"],
        ["node2 back up, caught up"],
    ]


def test_a_dead_leader_the_gateway_restarts_reads_down_then_restarted() -> None:
    leader, node2, node3 = HEALTHY.nodes
    dead = node("node1", "leader", up=False)
    said = _play(
        HEALTHY,
        _status(None, 3, dead, node2, node3),
        _status(
            "node2",
            4,
            replace(leader, role="follower", lag=0, restarts=1, exit_code=-9),
            replace(node2, role="leader"),
            node3,
        ),
    )
    assert said[1] == ["node1 down (was the leader)", "leader node1 lost: no leader"]
    assert said[2] == [
        "node1 exited unexpectedly (signal 9): restarted (restart 1)",
        "new leader: node2 (term 4)",
    ]


def _nodes(status: ClusterStatus, *rows: NodeRow) -> ClusterStatus:
    """``status`` with the rows named replaced by these (the rest as they were)."""
    by_id = {row.node_id: row for row in rows}
    return replace(status, nodes=tuple(by_id.get(n.node_id, n) for n in status.nodes))


def test_an_isolated_leader_steps_down_a_new_one_leads_and_it_heals() -> None:
    cut_off = _nodes(
        HEALTHY, node("node1", "leader", cut=("node2", "node3"), isolated=True, preferred=True)
    )
    elected = _status(
        "node2",
        4,
        node("node1", "leader", cut=("node2", "node3"), isolated=True, preferred=True),
        node("node2", "leader", term=4),
        node("node3", "follower", term=4),
    )
    healed = _status(
        "node2",
        4,
        node("node1", "follower", term=4, preferred=True),
        node("node2", "leader", term=4),
        node("node3", "follower", term=4),
    )
    assert _play(HEALTHY, cut_off, elected, healed)[1:] == [
        ["node1 isolated: steps down (no quorum)"],
        ["new leader: node2 (term 4)"],  # not a transfer: node1 was cut off
        ["node1 healed"],
    ]


def test_a_partial_cut_a_follower_isolated_and_a_restart_that_heals() -> None:
    partial = _nodes(HEALTHY, replace(HEALTHY.nodes[2], cut_in=("node1",)))
    isolated = _nodes(
        HEALTHY, node("node3", "follower", lag=4, cut=("node1", "node2"), isolated=True)
    )
    restarted = _nodes(HEALTHY, replace(HEALTHY.nodes[2], pid=9999))
    assert _play(HEALTHY, partial, isolated, restarted)[1:] == [
        ["node3: not hearing node1"],
        ["node3 isolated: hears no peer, no peer hears it"],
        ["node3 restarted, catching up (lag 4)"],  # its cuts went with the old process
    ]


def test_a_hand_over_reads_as_a_transfer() -> None:
    handed = _status(
        "node2",
        4,
        node("node1", "follower", term=4, preferred=True),
        replace(node("node2", "leader", term=4), handed_over=True),
        node("node3", "follower", term=4, lag=4),
    )
    assert _play(HEALTHY, handed)[1] == ["leadership transferred: node1 → node2 (term 4)"]


def test_a_leader_that_stayed_up_and_lost_an_election_is_not_said_to_hand_over() -> None:
    """A stalled machine let node3's timer run out while node1 stayed up with its links whole:
    node3 won an election, and says so (``handed_over`` false), so no transfer is told."""
    elected = _status(
        "node3",
        4,
        node("node1", "follower", term=4, preferred=True),
        node("node2", "follower", term=4),
        node("node3", "leader", term=4),
    )
    assert _play(HEALTHY, elected)[1] == ["new leader: node3 (term 4)"]


def test_a_leader_with_lossy_links_that_loses_an_election_is_not_said_to_hand_over() -> None:
    """Its followers stopped hearing it well and elected another: no transfer was asked."""
    lossy = (("node2", "drop 30% · +200 ms"),)
    faulty = replace(
        HEALTHY, nodes=(replace(HEALTHY.nodes[0], link_faults=lossy), *HEALTHY.nodes[1:])
    )
    elected = _status(
        "node2",
        4,
        replace(node("node1", "follower", term=4, preferred=True), link_faults=lossy),
        node("node2", "leader", term=4),
        node("node3", "follower", term=4),
    )
    assert _play(HEALTHY, faulty, elected)[2] == ["new leader: node2 (term 4)"]


def test_a_node_joins_as_learner_is_promoted_and_another_is_removed() -> None:
    joined = replace(HEALTHY, nodes=(*HEALTHY.nodes, node("node4", "follower", voter=False)))
    promoted = replace(HEALTHY, nodes=(*HEALTHY.nodes, node("node4", "follower")))
    removed = replace(promoted, nodes=tuple(n for n in promoted.nodes if n.node_id != "node2"))
    assert _play(HEALTHY, joined, promoted, removed)[1:] == [
        ["node4 joins as learner"],
        ["node4 promoted to voter"],
        ["node2 removed"],
    ]
    assert joined.majority == 2 and joined.nodes[3].shown_role == "learner"


async def test_a_snapshot_the_leader_sent_reads_in_the_timeline() -> None:
    """The leader's log says when it finished sending a snapshot; what it logged before the
    dashboard followed it is history, and stays out of the timeline."""
    recorded = RecordedOps()
    app = GateConsole(recorded.as_operations(), blink=False)
    sent = "snapshot sent to node4: 12.4 MB at index 2002 in 0.8 s"
    recorded.cluster.logs["node1"].append((20.0, "info", "snapshot", "old: " + sent))
    async with app.run_test(size=(120, 36)) as pilot:
        app.poll_leader_log()  # the first look: history
        await settle(app)
        recorded.cluster.logs["node1"].append((30.0, "info", "snapshot", sent))
        recorded.cluster.logs["node1"].append((31.0, "info", "catch_up", "node4 caught up"))
        app.poll_leader_log()
        await settle(app)
        await pilot.pause()
        timeline = app.query_one("#timeline", RichLog)
        text = "\n".join(line.text for line in timeline.lines)
    assert sent in text and "old: " not in text and "node4 caught up" not in text


def test_a_repair_is_said_when_it_starts_and_when_it_is_done() -> None:
    node2 = HEALTHY.nodes[1]
    reason = "stores/reg_gh.db: database disk image is malformed"
    repairing = replace(node2, repairing=reason, lag=None)
    done = replace(node2, repaired_from="node1")
    samples = [
        replace(HEALTHY, nodes=(HEALTHY.nodes[0], row, HEALTHY.nodes[2]))
        for row in (node2, repairing, repairing, done)
    ]
    assert repairing.shown_role == "repairing" and done.shown_role == "follower"
    assert _play(*samples)[1:] == [
        [f"node2: {reason}, rebuilding from node1"],
        [],
        ["node2 repaired from node1"],
    ]


def test_the_timeline_tells_every_link_fault_and_each_change_of_tempo() -> None:
    node1 = HEALTHY.nodes[0]
    lossy = replace(node1, link_faults=(("node2", "drop 30% · +200 ms"),))
    faulty = replace(HEALTHY, nodes=(lossy, *HEALTHY.nodes[1:]))
    slowed = replace(faulty, tempo=20)
    assert _play(HEALTHY, faulty, slowed, replace(HEALTHY, tempo=20), HEALTHY)[1:] == [
        ["node1 link faults: →node2 drop 30% · +200 ms"],
        ["tempo ×1/20: slow motion"],
        ["node1: link faults cleared"],
        ["tempo ×1: full speed"],
    ]
    assert lossy.marked_id == "node1 ≈" and "≈" in faulty.legend


def test_the_status_bar_shows_the_tempo_in_slow_motion_only() -> None:
    def text(status: ClusterStatus) -> str:
        sample = HealthSample(status, 12.0, None, 0.0)
        return status_text(sample, "http://127.0.0.1:8899").plain

    assert "tempo" not in text(HEALTHY)
    assert " · term 3 · tempo ×1/20 · 3/3 up" in text(replace(HEALTHY, tempo=20))


def test_jetstream_stream_elections_are_told() -> None:
    streams = [(("reg_gh", "node2"),), (("reg_gh", None),), (("reg_gh", "node3"),)]
    said = _play(*(replace(HEALTHY, stream_leaders=leaders) for leaders in streams))
    assert said[1:] == [["stream reg_gh: leader node2 lost"], ["stream reg_gh: new leader node3"]]


def test_the_timeline_s_times_keep_their_width_past_1000_seconds() -> None:
    """A class runs longer than 16 minutes: "+1605.9s" pushed its line one column right."""
    assert [elapsed_text(s) for s in (0, 12.34, 849.66, 999.9, 1605.9, 7300, 200_000)] == [
        "+  0.0s",
        "+ 12.3s",
        "+849.7s",
        "+999.9s",
        "+26m45s",
        "+ 2h01m",
        "+ 2d07h",
    ]
