"""Kill, stop and deleting parked events ask first; ``confirm=False`` (``--yes``) does not."""

from __future__ import annotations

from dataclasses import replace

from textual.pilot import Pilot

from console.tui.app import GateConsole
from console.tui.dialogs.confirm import ConfirmDialog
from tests.tui.recorded import RecordedOps
from tests.tui.test_snapshots import settle as settle_workers


async def settle(pilot: Pilot[None]) -> None:
    """Let the keys' workers run until they wait for a dialog or finish."""
    await pilot.pause()
    await pilot.pause()


async def test_kill_asks_and_yes_kills_the_node() -> None:
    recorded = RecordedOps()
    app = GateConsole(recorded.as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.press("k")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.question == "Kill node1?"
        assert recorded.cluster.actions == []  # nothing happens while the question is open
        await pilot.press("y")
        await settle_workers(app)
        assert recorded.cluster.actions == [("node1", "kill")]
        assert app.last_message.startswith("✅ Killed node1 (the leader); ")


async def test_cancel_leaves_the_node_alone() -> None:
    recorded = RecordedOps()
    app = GateConsole(recorded.as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await settle_workers(app)
        await pilot.press("k")
        await settle(pilot)
        await pilot.press("enter")  # focus starts on No: a stray Enter kills nothing
        await settle_workers(app)
        assert not isinstance(app.screen, ConfirmDialog)
        assert recorded.cluster.actions == []
        assert app.last_message == "↩️  node1 left as it was"


async def test_pause_asks_nothing_and_yes_mode_asks_nothing() -> None:
    recorded = RecordedOps()
    app = GateConsole(recorded.as_operations(), blink=False, confirm=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.press("k")
        await settle_workers(app)
        assert recorded.cluster.actions == [("node1", "kill")]
    recorded = RecordedOps()
    app = GateConsole(recorded.as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.press("p")
        await settle_workers(app)
        assert recorded.cluster.actions == [("node1", "pause")]


async def test_deleting_a_subscription_with_parked_events_asks_first() -> None:
    recorded = RecordedOps(None)
    app = GateConsole(recorded.as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await app.refresh_lists()
        await pilot.press("5", "d")  # my_sub: 4 parked
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.detail == "Its 4 parked events go with it."
        await pilot.press("n")
        await settle_workers(app)
        assert [row.name for row in await recorded.subscriptions.rows()] == ["my_sub", "heat"]
        await pilot.press("d", "y")
        await settle_workers(app)
        assert [row.name for row in await recorded.subscriptions.rows()] == ["heat"]
        assert app.last_message == "✅ Subscription 'my_sub' deleted"


async def test_deleting_a_subscription_without_parked_events_does_not_ask() -> None:
    recorded = RecordedOps(None)
    rows = recorded.subscriptions.rows_data
    recorded.subscriptions.rows_data = [replace(row, parked=0) for row in rows]
    app = GateConsole(recorded.as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await app.refresh_lists()
        await pilot.press("5", "d")
        await settle_workers(app)
        assert [row.name for row in await recorded.subscriptions.rows()] == ["heat"]
