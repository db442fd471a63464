"""Panel keys pressed faster than the app handles them (found by tests/tui/test_monkey.py).

Each panel key switches the tab, and a tab's activation moves the keyboard into its panel.  Two
keys in a row used to make the two activations answer each other for ever (3 then 5: the
message of 3 switched back to Observers, whose own message switched to Subscriptions, …): the
dashboard flickered between two panels and spent all its time restyling them.
"""

from __future__ import annotations

import asyncio
import time

from textual import events
from textual.message import Message
from textual.widgets import DataTable, TabbedContent

from console.tui.subscriptions.panel import SubscriptionsPanel
from tests.tui.test_snapshots import SMALL, console


async def test_two_panel_keys_at_once_end_on_the_second_panel() -> None:
    activations: dict[int, str] = {}  # by message: the hook sees one at every pump it passes

    def hook(message: Message) -> None:
        if isinstance(message, TabbedContent.TabActivated) and message.pane.id is not None:
            activations[id(message)] = message.pane.id

    async def run_for(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    app = console()
    async with app.run_test(size=SMALL, message_hook=hook) as pilot:
        await pilot.pause()
        activations.clear()
        for key in "35":  # both queued before either is handled, as a fast typist does
            app.post_message(events.Key(key, key))
        # Settled: no activation for 0.3 s (the loop runs dozens of rounds within that, even
        # on a loaded machine).  A ping-pong never settles and meets the deadline.
        deadline = time.monotonic() + 5.0
        settled = -1
        while len(activations) != settled:
            assert time.monotonic() < deadline, f"still switching: {list(activations.values())}"
            settled = len(activations)
            await run_for(0.3)
        assert settled <= 4, list(activations.values())  # each key's, a late one, its fix
        assert app.query_one(TabbedContent).active == "subscriptions"
        assert app.focused is app.query_one(SubscriptionsPanel).query_one(DataTable)
        await pilot.press("ctrl+q")


async def test_a_clicked_tab_takes_the_keyboard_into_its_panel() -> None:
    app = console()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.click("#--content-tab-subscriptions")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "subscriptions"
        assert app.focused is app.query_one(SubscriptionsPanel).query_one(DataTable)
        await pilot.press("ctrl+q")
