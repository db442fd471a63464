"""gate-console on more than one store, and each node's inside on the Cluster panel.

The SVGs in ``snapshots/test_store_snapshots/`` were rendered to PNG and looked at.  The store
switch here runs on recorded data (tests/tui/recorded.py); ``test_live.py`` switches a real
console on a real cluster.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from console.ops.session import Access
from console.tui.app import GateConsole
from tests.tui.recorded import HEALTHY, RecordedOps
from tests.tui.test_snapshots import SMALL, Compare, console, settle, steps

LARGE = (120, 36)
READER = Access("student-7", "reader", "token")


def switched(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Switch to the store ``shop`` with the dialog, then press ``keys``; the lists and a
    health sample of the new store come in as they would within a second."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, GateConsole)
        await steps("S")(pilot)
        await pilot.press("enter")
        await settle(app)
        app.ops.health.show(HEALTHY)  # type: ignore[attr-defined]
        app.drain()
        await app.refresh_lists()
        await pilot.press(*keys)
        await settle(app)
        await pilot.pause()

    return run


def test_cluster_inside_small_terminal(snap_compare: Compare) -> None:
    """80x24: under the legend, the selected follower's vote, uptime and election timer, and
    the leader's match/next index of it."""
    assert snap_compare(console(), run_before=steps("down", "down"), terminal_size=SMALL)


def test_cluster_inside_large(snap_compare: Compare) -> None:
    """120x36: every node's vote, election timer (a bar) and uptime in columns; the leader's
    match/next of each follower under the legend."""
    assert snap_compare(console(), run_before=steps(), terminal_size=LARGE)


def test_store_dialog_small_terminal(snap_compare: Compare) -> None:
    """S: the stores with their counts, what stops, the next store proposed."""
    assert snap_compare(console(), run_before=steps("S"), terminal_size=SMALL)


def test_switched_store_streams_small_terminal(snap_compare: Compare) -> None:
    """After the switch: the header names shop, the Streams panel shows its streams and
    counts."""
    assert snap_compare(console(), run_before=switched("6"), terminal_size=SMALL)


def test_switched_store_observers_large(snap_compare: Compare) -> None:
    """The observers of reg_gh stopped with the switch: the panel of shop is empty."""
    assert snap_compare(console(), run_before=switched("3"), terminal_size=LARGE)


async def test_the_switch_is_told_and_the_panels_follow() -> None:
    app = console()
    async with app.run_test(size=SMALL) as pilot:
        await steps("6")(pilot)
        counts = app.query_one("#store-counts", Static)
        assert str(counts.content) == (
            "store reg_gh · 3 streams · 1,240 events · 2 subscriptions · S: another store"
        )
        await switched()(pilot)
        assert app.ops.store == "shop"
        assert app.last_message == (
            "✅ Working on store shop: 2 streams · 57 events · 0 subscriptions"
        )
        assert str(counts.content).startswith("store shop · 2 streams · 57 events")
        assert app.query_one("#stream-list").row_count == 2  # type: ignore[attr-defined]
        assert app.query_one("#subscriptions-panel DataTable").row_count == 0  # type: ignore[attr-defined]


async def test_a_reader_cannot_create_a_store_and_is_told_in_one_line() -> None:
    app = GateConsole(RecordedOps(HEALTHY, access=READER).as_operations(), blink=False)
    async with app.run_test(size=SMALL) as pilot:
        await steps("S")(pilot)
        await pilot.press("end", "ctrl+u", *"nowhere", "enter")
        await pilot.pause()
        error = app.screen.query_one("#form-error", Static)
        assert str(error.content) == (
            "❌ there is no store 'nowhere' (stores: reg_gh, shop); only an admin creates one"
        )
        assert app.ops.store == "reg_gh"
        # The dialog says no store is created here.
        hint = str(app.screen.query_one(".hint", Static).content)
        assert "A new name creates" not in hint and "reg_gh (here)" in hint
