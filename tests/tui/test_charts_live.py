"""The live charts against a real cluster: producers write, an observer feeds the feed, a
subscription nobody consumes falls behind, a follower is killed with ``kill -9`` from outside,
and the charts' history and panes show each of them (at 120x40: the plotext charts)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.widgets import Static

from console.ops.operations import Operations
from console.tui.app import GateConsole
from console.tui.charts.panes import ClusterCharts, FeedCharts, SubscriptionCharts
from tests.cluster_harness import RunningCluster, kill_pid
from tests.tui.test_live import SIZE, open_ops, until

__all__ = ["open_ops"]  # the fixture, shared with test_live.py


async def test_the_charts_follow_a_real_cluster(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
    open_ops: Callable[[RunningCluster], Awaitable[Operations]],
) -> None:
    cluster = await make_cluster()
    ops = await open_ops(cluster)
    await ops.observers.create_by_stream("$all")
    await ops.subscriptions.create("unread", {"by_stream": "$all"}, consume=False)  # nobody acks
    await ops.producers.start(3)
    app = GateConsole(ops, blink=False)
    history = app.history
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("G")
        await until(pilot, lambda: app.query_one(ClusterCharts).display, "the charts shown")

        def committing() -> bool:
            return any((series["commit"].latest or 0) > 0 for series in history.nodes.values())

        await until(pilot, committing, "a commit rate above 0", timeout=30)
        assert all(series["probe"].latest for series in history.nodes.values())

        def typed() -> bool:
            return any((series.latest or 0) > 0 for series in history.event_types.values())

        await until(pilot, typed, "events per second of some event type", timeout=30)
        assert all(name.endswith(":v1") for name in history.event_types)

        def behind() -> bool:
            return ((history.backlogs.get("unread") and history.backlogs["unread"].latest) or 0) > 0

        await until(pilot, behind, "the unconsumed subscription's backlog", timeout=30)

        # A follower killed from outside: a red mark, named under the cluster's charts.
        leader = await cluster.leader()
        follower = next(node for node in history.nodes if node != leader)
        kill_pid(await cluster.node_pid(follower))
        note = app.query_one("#cluster ClusterCharts .plot-note", Static)
        await until(
            pilot,
            lambda: any(m.text == f"{follower} down" for m in history.marks),
            "the mark of the killed follower",
            timeout=30,
        )
        await until(pilot, lambda: f"{follower} down" in str(note.content), "the note naming it")

        # The other panels' charts are drawn once shown, from the same history.
        await pilot.press("2")
        await until(pilot, lambda: app.query_one(FeedCharts).has_class("full"), "the feed chart")
        await pilot.press("5")
        await until(
            pilot, lambda: app.query_one(SubscriptionCharts).has_class("full"), "the backlog chart"
        )
        await pilot.press("ctrl+q")
