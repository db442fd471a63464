"""The real dashboard on a real cluster: each node's inside on the Cluster panel, and a switch
to another store that the panels follow (Textual pilot)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from textual.widgets import DataTable, Input, Static

from console.ops.operations import Operations
from console.ops.stores import Running
from console.tui.app import GateConsole
from console.tui.cluster.panel import WIDE_COLUMNS
from console.tui.status_bar import StatusBar
from tests.cluster_harness import RunningCluster
from tests.tui.test_live import open_ops, until

__all__ = ["open_ops"]  # the fixture, shared with test_live.py

SIZE = (120, 36)


def _text(app: GateConsole, selector: str) -> str:
    return str(app.query_one(selector, Static).content)


async def test_each_nodes_inside_then_another_store(
    cluster: RunningCluster, open_ops: Callable[[RunningCluster], Awaitable[Operations]]
) -> None:
    ops = await open_ops(cluster)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        # The leader's row first: its vote, uptime and quorum check, its followers' match/next.
        await until(
            pilot,
            lambda: "match/next: node2 " in _text(app, "#node-inside"),
            "the leader's inside under the legend",
        )
        inside = _text(app, "#node-inside")
        assert re.match(r"node1: voted for node1 in term \d+ · up \d+s · checks its quorum", inside)
        nodes = app.query_one("#nodes", DataTable)
        assert [str(c.label) for c in nodes.columns.values()] == list(WIDE_COLUMNS)
        row = [str(cell) for cell in nodes.get_row("node2")]
        # A follower that heard of the leader's term from its appends voted for nobody in it.
        assert row[-3] in ("node1", "-") and re.fullmatch(r"\d+s", row[-1]), row
        assert set(row[-2]) <= {"█", "░"} and len(row[-2]) == 6, row  # the election timer
        await pilot.press("down")
        await until(
            pilot,
            lambda: "leader node1: match " in _text(app, "#node-inside"),
            "a follower's inside, as the leader knows it",
        )

        # Producers on reg_gh; then S, a new store's name, Enter.
        await ops.producers.start(2)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the store dialog")
        await pilot.press("end", "ctrl+u", *"live_shop", "enter")
        await until(pilot, lambda: ops.store == "live_shop", "the switch")
        await until(
            pilot, lambda: "Working on store live_shop (created)" in app.last_message, "the news"
        )
        await pilot.pause(0.2)
        told = [note.message for note in app._notifications]
        assert any("\nStopped on reg_gh: 2 producers" in message for message in told), told
        assert ops.running() == Running()
        assert "store live_shop" in str(app.query_one(StatusBar).query_one("#status-text").render())

        # The Streams panel follows the new store, with its counts.
        await ops.streams.append_generated("shop-1", 3)
        await pilot.press("6")
        await until(
            pilot,
            lambda: _text(app, "#store-counts").startswith(
                "store live_shop · 1 stream · 3 events · 0 subscriptions"
            ),
            "the new store's counts",
        )
        streams = app.query_one("#stream-list", DataTable)
        assert [key.value for key in streams.rows] == ["shop-1"]
