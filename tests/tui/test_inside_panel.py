"""The Cluster panel follows the nodes' inside only while it is shown, and draws it over the
last cluster view at once (console/ops/inside.py): a follower's timer runs down between two
probes."""

from __future__ import annotations

from typing import cast

from textual.widgets import Static

from console.tui.app import GateConsole
from tests.inside_data import node_inside
from tests.tui.recorded import RecordedInside
from tests.tui.test_snapshots import SMALL, console


async def test_the_panel_follows_the_inside_while_shown_and_draws_each_update() -> None:
    app = console()
    async with app.run_test(size=SMALL) as pilot:
        feed = cast(RecordedInside, app.ops.inside)
        assert feed.watching  # the Cluster panel is shown first
        await pilot.press("down")  # node2
        words = app.query_one("#node-inside", Static)
        for elapsed in (100, 250, 400):
            feed.take({"node2": node_inside(elapsed=elapsed)})
            cast(GateConsole, app).drain()
            await pilot.pause()
            assert f"times out in {450 - elapsed}/450 ms" in str(words.content)
        await pilot.press("7")
        await pilot.pause()
        assert not feed.watching
        await pilot.press("1")
        await pilot.pause()
        assert feed.watching
