"""The ack/nack settings dialog drives the consumer policy; timers at close (recorded data)."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input, Select, TabbedContent

from console.ops.subscriptions import ConsumerPolicy, subscription_row
from console.tui.app import GateConsole
from console.tui.dialogs.form import FormDialog
from console.tui.observers.panel import ObserversPanel
from console.tui.status_bar import StatusBar
from console.tui.subscriptions.panel import subscription_cells
from tests.tui.recorded import RecordedOps


async def submit(pilot: Pilot[None], dialog: FormDialog[str], every: str) -> None:
    """Type ``every`` into its box and press Enter there (a notification may cover OK)."""
    box = dialog.query_one("#field-every", Input)
    box.value = every
    box.focus()
    await pilot.press("enter")
    await dialog.workers.wait_for_complete()
    await pilot.pause()


async def test_settings_dialog_changes_the_running_consumer_and_starts_one() -> None:
    recorded = RecordedOps(None)
    app = GateConsole(recorded.as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await app.refresh_lists()
        await pilot.press("5", "a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FormDialog)
        # The dialog starts from the running consumer's policy.
        assert dialog.query_one("#field-action", Select).value == "nack_park"
        assert dialog.query_one("#field-every", Input).value == "300"
        dialog.query_one("#field-action", Select).value = "nack_retry"
        await submit(pilot, dialog, "3")
        assert recorded.subscriptions.consumer("my_sub").policy == ConsumerPolicy("nack_retry", 3)
        assert app.last_message == "✅ The consumer of 'my_sub' now retries every 3rd"

        # A subscription not consumed here gets a consumer with the chosen policy.
        await pilot.press("down", "a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FormDialog)
        assert dialog.query_one("#field-action", Select).value == "ack"
        await submit(pilot, dialog, "x")
        assert "must be a whole number from 1 to 1000, not 'x'" in str(
            dialog.query_one("#form-error").render()
        )
        await submit(pilot, dialog, "")
        assert recorded.subscriptions.consumer("heat").policy == ConsumerPolicy()
        assert app.last_message == "✅ Consuming 'heat' here; the consumer acks all"


async def test_timers_that_fire_while_the_app_closes_do_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At close the app stops running, then removes its widgets one by one; the drain and list
    timers can still fire in between (slow CI) and must do nothing."""
    recorded = RecordedOps(None)
    app = GateConsole(recorded.as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.pause()
        # As the shutdown does first (Textual's App._shutdown sets _running to False).
        monkeypatch.setattr(GateConsole, "is_running", property(lambda _app: False))
        # A table goes before its panel: a check for the panels alone would not do.
        await app.query_one(ObserversPanel).table.remove()
        app.drain(tables=True)  # would raise NoMatches for the observers table
        await app.refresh_lists()
        await app.query_one(TabbedContent).remove()
        await app.query_one(StatusBar).remove()
        app.drain(tables=True)  # would raise NoMatches for the feed panel
        await app.refresh_lists()


def test_the_here_column_shows_a_reconnecting_or_failed_consumer() -> None:
    entry = {"name": "teach_sub", "type": "by_stream", "selector": "$all"}
    policy = ConsumerPolicy("nack_park", 2)
    cells = {
        state: subscription_cells(subscription_row(entry, True, policy, state))[1]
        for state in ("running", "reconnecting", "failed")
    }
    assert isinstance(cells["running"], Text) and cells["running"].plain == "✓ park 1/2"
    assert cells["reconnecting"] == Text("↻ reconnecting", style="yellow")
    assert cells["failed"] == Text("✗ failed", style="red")
