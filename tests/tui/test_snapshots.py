"""Snapshots of every screen and dialog of gate-console, from recorded, fixed data.

Each SVG in ``snapshots/test_snapshots/`` was rendered to PNG and looked at before it was
accepted.  The app gets a stand-in for the operations layer holding fixed data (no clock, no
network), blinking cursors are off and animations are disabled, so every run draws the same
screen.  Update with ``pytest tests/tui --snapshot-update`` and look at the new pictures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from textual.worker import WorkerCancelled

from console.ops.cluster import ClusterStatus
from console.tui.app import GateConsole
from tests.tui.recorded import FAILOVER, HEALTHY, NO_LEADER, RecordedOps, node

Compare = Callable[..., bool]
WIDE = (110, 32)
SMALL = (80, 24)


pytestmark = pytest.mark.usefixtures("utc")


@pytest.fixture(autouse=True)
def ports_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """The add-node dialog proposes ports past the recorded ones whatever this machine holds."""
    monkeypatch.setattr("console.ops.cluster._port_free", lambda host, port: True)


def console(
    status: ClusterStatus | None = HEALTHY,
    *,
    empty: bool = False,
    trace: list[dict[str, Any]] | None = None,
) -> GateConsole:
    """The dashboard over recorded data, with nothing that moves by itself."""
    app = GateConsole(RecordedOps(status, empty=empty, trace=trace).as_operations(), blink=False)
    app.animation_level = "none"
    return app


async def settle(app: GateConsole) -> None:
    """Wait until no worker runs. An exclusive worker (the node-log poll) may be cancelled by
    its successor meanwhile: that one is waited for in the next round."""
    for _ in range(50):
        try:
            await app.workers.wait_for_complete()
            return
        except WorkerCancelled:
            continue
    raise AssertionError("workers kept being cancelled and replaced")


def steps(
    *keys: str, statuses: Iterable[ClusterStatus] = ()
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Load the lists, show more cluster samples, press keys, then wait until all is drawn."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, GateConsole)
        await app.refresh_lists()
        for status in statuses:
            app.ops.health.show(status)  # type: ignore[attr-defined]
            app.drain()
            await pilot.pause()
        await settle(app)
        await pilot.press(*keys)
        await pilot.pause()
        await settle(app)
        for box in app.screen.query(Input):
            box.cursor_blink = False  # e.g. the command palette's own input
        await pilot.pause()

    return run


def test_cluster_panel(snap_compare: Compare) -> None:
    """The cluster at a glance: the leader highlighted, a follower lagging, the timeline."""
    assert snap_compare(console(), run_before=steps(), terminal_size=WIDE)


def test_cluster_small_terminal(snap_compare: Compare) -> None:
    """The same at 80x24."""
    assert snap_compare(console(), run_before=steps(), terminal_size=SMALL)


def test_cluster_panel_large(snap_compare: Compare) -> None:
    """At 120x36: the timeline and, under it, the log of the leader (the selected node)."""
    assert snap_compare(console(), run_before=steps(), terminal_size=(120, 36))


def test_node_log_of_a_follower_small_terminal(snap_compare: Compare) -> None:
    """At 80x24, node3 selected: why it refused, then matched the leader again."""
    assert snap_compare(console(), run_before=steps("down", "down"), terminal_size=SMALL)


def test_node_log_of_a_node_that_does_not_answer(snap_compare: Compare) -> None:
    """node2 stops answering: its lines stay, the pane's border says why no new ones come."""
    app = console()

    async def run(pilot: Pilot[Any]) -> None:
        await steps("down")(pilot)
        app.ops.cluster.silent.add("node2")  # type: ignore[attr-defined]
        app.poll_node_log()
        await settle(app)
        await pilot.pause()

    assert snap_compare(app, run_before=run, terminal_size=SMALL)


def test_node_down_no_leader(snap_compare: Compare) -> None:
    """The leader went down and the others are electing: no leader, a candidate, node1 red."""
    app = console()
    assert snap_compare(app, run_before=steps(statuses=[NO_LEADER]), terminal_size=SMALL)


def test_failover_timeline(snap_compare: Compare) -> None:
    """A whole failover told by the timeline: down, election, new leader, catching up."""
    app = console()
    assert snap_compare(app, run_before=steps(statuses=FAILOVER[1:]), terminal_size=WIDE)


def test_node_restarted_by_the_gateway_small_terminal(snap_compare: Compare) -> None:
    """node2 died and the gateway restarted it: ↻1 by its name, a second legend line saying
    what that means, and the timeline line telling how it died."""
    leader, node2, node3 = HEALTHY.nodes
    restarted = replace(node2, pid=4711, lag=3, restarts=1, exit_code=-9)
    status = replace(HEALTHY, nodes=(leader, restarted, node3))
    assert snap_compare(console(), run_before=steps(statuses=[status]), terminal_size=SMALL)


# The leader isolated and replaced, node4 joining as a learner from a snapshot (its log starts
# at 1801), node3 cut one way from node2: each mark and timeline line of issue #17.
PARTITIONED = (
    replace(
        HEALTHY,
        nodes=(*HEALTHY.nodes, node("node4", "follower", voter=False, position=1240, first=1801)),
    ),
    replace(
        HEALTHY,
        nodes=(
            node("node1", "leader", cut=("node2", "node3", "node4"), isolated=True, preferred=True),
            *HEALTHY.nodes[1:],
            node("node4", "follower", voter=False, position=1240, first=1801),
        ),
    ),
    ClusterStatus(
        "node2",
        4,
        (
            node(
                "node1",
                "follower",
                term=4,
                position=1240,
                cut=("node2", "node3", "node4"),
                isolated=True,
                preferred=True,
            ),
            node("node2", "leader", term=4, position=1262, first=1001),
            replace(
                node("node3", "follower", term=4, position=1262, first=1001), cut_in=("node2",)
            ),
            node("node4", "follower", term=4, voter=False, position=1262, first=1801),
        ),
    ),
)


@pytest.mark.parametrize("size", [SMALL, (120, 36)], ids=["80x24", "120x36"])
def test_partition_and_a_learner(snap_compare: Compare, size: tuple[int, int]) -> None:
    """node4 joins as a learner, node1 (the leader) is isolated and steps down, node3 partly
    cut: ✂ by their names, the legend line saying what it means, learner as node4's role,
    each node's log span, and the timeline telling it."""
    run = steps(statuses=PARTITIONED)
    assert snap_compare(console(), run_before=run, terminal_size=size)


def test_unreachable_gateway(snap_compare: Compare) -> None:
    """The gateway stopped answering: the status bar says so."""
    app = console(None)

    async def run(pilot: Pilot[Any]) -> None:
        app.ops.health.show(None, 0.0, "cannot reach the gateway")  # type: ignore[attr-defined]
        await steps()(pilot)

    assert snap_compare(app, run_before=run, terminal_size=SMALL)


def test_feed(snap_compare: Compare) -> None:
    """The live feed: observer and consumer lines coloured by event type."""
    assert snap_compare(console(), run_before=steps("2"), terminal_size=WIDE)


def test_feed_filter(snap_compare: Compare) -> None:
    """`/` filters the feed as one types."""
    run = steps("slash", *"light")
    assert snap_compare(console(), run_before=run, terminal_size=WIDE)


def test_observers(snap_compare: Compare) -> None:
    """The observers table."""
    assert snap_compare(console(), run_before=steps("3"), terminal_size=WIDE)


def test_observers_empty(snap_compare: Compare) -> None:
    """No observers yet: the hint says which keys create one."""
    assert snap_compare(console(empty=True), run_before=steps("3"), terminal_size=SMALL)


def test_producers(snap_compare: Compare) -> None:
    """The producers table."""
    assert snap_compare(console(), run_before=steps("4"), terminal_size=WIDE)


def test_subscriptions(snap_compare: Compare) -> None:
    """The subscriptions table with checkpoints and counters."""
    assert snap_compare(console(), run_before=steps("5"), terminal_size=WIDE)


def test_streams(snap_compare: Compare) -> None:
    """The streams browser with the first stream open."""
    assert snap_compare(console(), run_before=steps("6"), terminal_size=WIDE)


def test_streams_backward_small_terminal(snap_compare: Compare) -> None:
    """Reading backward from the last event, at 80x24."""
    assert snap_compare(console(), run_before=steps("6", "v"), terminal_size=SMALL)


def test_greenhouse(snap_compare: Compare) -> None:
    """A greenhouse aggregate and its snapshots."""
    assert snap_compare(console(), run_before=steps("6", "g"), terminal_size=WIDE)


def test_help(snap_compare: Compare) -> None:
    """`?` lists every key."""
    assert snap_compare(console(), run_before=steps("question_mark"), terminal_size=WIDE)


def test_command_palette(snap_compare: Compare) -> None:
    """The command palette lists the dashboard's operations."""
    run = steps("ctrl+p", *"node")
    assert snap_compare(console(), run_before=run, terminal_size=WIDE)


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(("3", "n"), id="observer_by_stream"),
        pytest.param(("3", "e"), id="observer_by_type"),
        pytest.param(("3", "p"), id="observer_by_payload"),
        pytest.param(("4", "n"), id="start_producers"),
        pytest.param(("5", "n"), id="create_subscription"),
        pytest.param(("5", "a"), id="consumer_policy"),
        pytest.param(("6", "b"), id="browse_stream"),
        pytest.param(("6", "a"), id="append_events"),
        pytest.param(("6", "e"), id="append_event"),
        pytest.param(("i",), id="isolate_node"),
        pytest.param(("a",), id="add_node"),
        pytest.param(("f",), id="link_fault"),
    ],
)
def test_dialog(snap_compare: Compare, keys: tuple[str, ...]) -> None:
    """Every create dialog, with the menu shell's defaults filled in."""
    assert snap_compare(console(), run_before=steps(*keys), terminal_size=SMALL)


# Slow motion, with node1's link to node2 lossy and slow.
SLOW = replace(
    HEALTHY,
    tempo=20,
    nodes=(
        replace(HEALTHY.nodes[0], link_faults=(("node2", "drop 30% · +200 ms"),)),
        *HEALTHY.nodes[1:],
    ),
)


@pytest.mark.parametrize("size", [SMALL, (120, 36)], ids=["80x24", "120x36"])
def test_slow_motion_and_a_lossy_link(snap_compare: Compare, size: tuple[int, int]) -> None:
    """The header says the tempo, the node table marks the faulty link (≈, with a legend line)
    and the timeline tells both."""
    assert snap_compare(console(), run_before=steps(statuses=[SLOW]), terminal_size=size)


def test_dialog_error(snap_compare: Compare) -> None:
    """A bad pattern keeps the dialog open with the reason under the fields."""
    run = steps("3", "p", "tab", *"%{temperature 25}", "enter")
    assert snap_compare(console(), run_before=run, terminal_size=SMALL)


def test_confirm_kill(snap_compare: Compare) -> None:
    """`k` asks before killing the selected node, No focused."""
    app = console()

    async def run(pilot: Pilot[Any]) -> None:
        await steps()(pilot)
        await pilot.press("k")  # its worker waits for the answer: no wait_for_complete here
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, run_before=run, terminal_size=SMALL)
