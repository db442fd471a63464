"""The real dashboard's verdict line (issue #25) while its producers run and the leader is
killed from the Cluster panel: it appears, keeps counting through the failover, and never
turns red."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from textual.widgets import DataTable, Input

from console.ops.operations import Operations
from console.tui.app import GateConsole
from console.tui.dialogs.confirm import ConfirmDialog
from console.tui.status_bar import VerdictLine
from tests.cluster_harness import RunningCluster
from tests.tui.test_live import SIZE, open_ops, until  # noqa: F401 (open_ops: a fixture)

CLEAN = re.compile(r"checked ([\d,]+) acked · 0 lost · 0 duplicated · order ok")


async def test_the_verdict_line_counts_through_a_killed_leader(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
    open_ops: Callable[[RunningCluster], Awaitable[Operations]],  # noqa: F811
) -> None:
    cluster = await make_cluster()
    old_leader = await cluster.leader()
    ops = await open_ops(cluster)
    app = GateConsole(ops, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        line = app.query_one(VerdictLine)
        assert not line.display  # no producer yet: no line
        shown: list[str] = []

        def checked() -> int:
            """What the line says now (every text it showed is kept, so red cannot hide)."""
            if not shown or shown[-1] != line.shown:
                shown.append(line.shown)
            match = CLEAN.fullmatch(line.shown)
            return int(match.group(1).replace(",", "")) if match else 0

        await pilot.press("4", "n")
        await until(pilot, lambda: isinstance(app.screen.focused, Input), "the producers dialog")
        await pilot.press("enter")
        await until(pilot, lambda: checked() >= 20, "20 acknowledged events checked", 30)
        assert line.display

        await pilot.press("1")
        nodes = app.query_one("#nodes", DataTable)
        nodes.move_cursor(row=nodes.get_row_index(old_leader))
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        before = checked()
        await until(pilot, lambda: checked() >= before + 30, "30 more checked after the kill", 60)
        assert all(CLEAN.fullmatch(text) for text in shown if text), shown
        await pilot.press("ctrl+q")
