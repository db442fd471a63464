"""The Messages panel from a recorded trace: an election after the leader died, then a full
write rate summed up, as a sequence diagram; a selected message shows its fields.

Each SVG in ``snapshots/test_messages_panel/`` was rendered to PNG and looked at before it was
accepted (update with ``pytest tests/tui/test_messages_panel.py --snapshot-update``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from console.ops.messages import trace_line
from console.tui.app import GateConsole
from console.tui.messages.diagram import lanes
from console.tui.messages.panel import MessagesPanel, detail
from tests.tui.recorded import ELECTION, T0
from tests.tui.test_snapshots import SMALL, Compare, console, steps

LARGE = (120, 36)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def shown(*keys: str) -> Any:
    """The Messages panel (key 7) with the recorded trace drained into it, then ``keys``."""

    async def run(pilot: Pilot[Any]) -> None:
        await steps("7")(pilot)
        app = pilot.app
        assert isinstance(app, GateConsole)
        assert app.ops.messages.watching
        app.drain()
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()

    return run


def test_messages_small_terminal(snap_compare: Compare) -> None:
    """80x24: lanes node1-3, the election's arrows, heartbeats folded, the summaries."""
    assert snap_compare(console(), run_before=shown(), terminal_size=SMALL)


def test_messages_large(snap_compare: Compare) -> None:
    assert snap_compare(console(), run_before=shown(), terminal_size=LARGE)


def test_a_selected_message_shows_its_fields_small(snap_compare: Compare) -> None:
    """Up to node3's granted vote: following stops, its fields show beneath."""
    keys = ("up",) * 7
    assert snap_compare(console(), run_before=shown(*keys), terminal_size=SMALL)


def test_a_selected_message_shows_its_fields_large(snap_compare: Compare) -> None:
    keys = ("up",) * 5
    assert snap_compare(console(), run_before=shown(*keys), terminal_size=LARGE)


def test_the_arrows_go_from_sender_to_receiver() -> None:
    nodes = ["node1", "node2", "node3"]
    lines = [trace_line(raw, T0) for raw in ELECTION]
    assert lanes(lines[1], nodes).plain == "    │◀──────●       │   "  # node2 → node1
    assert lanes(lines[2], nodes).plain == "    │       ●──────▶│   "  # node2 → node3
    assert lanes(lines[3], nodes).plain == "    │       │◀──────●   "  # node3 → node2
    assert lanes(lines[11], nodes).plain == "    │       │◀══════●   "  # summed up
    assert lanes(lines[0], nodes).plain == "    ♥┄┄┄┄┄┄┄♥┄┄┄┄┄┄┄♥   "
    assert lanes(lines[-1], nodes).plain == "    │       ✗       │   "
    assert lines[10].text == "AppendEntries ×340/s, 1–40 entries"
    assert lines[6].text == "vote granted t4"
    words = detail(lines[7])
    assert words.startswith("AppendEntries node2 → node3, sent by node2 at 46:41.521")
    assert "prev index 1240 · prev term 3 · entries 1 · commit 1240" in words
    assert lines[7].text == "AppendEntries t4 1240/3 +1 commit 1240"


async def test_the_panel_asks_for_messages_only_while_shown() -> None:
    app = console()
    async with app.run_test(size=SMALL) as pilot:
        assert not app.ops.messages.watching
        await pilot.press("7")
        await pilot.pause()
        assert app.ops.messages.watching
        await pilot.press("1")
        await pilot.pause()
        assert not app.ops.messages.watching
        assert app.query_one(MessagesPanel).nodes == ["node1", "node2", "node3"]


async def test_the_fields_stay_on_screen_when_the_diagram_is_full() -> None:
    """A minute of watching fills the table: it takes what the detail lines leave, and the
    selected message's fields stay above the footer (the app's ``DataTable { height: auto }``
    once pushed them off the screen)."""
    app = console()
    async with app.run_test(size=LARGE) as pilot:
        await shown()(pilot)
        panel = app.query_one(MessagesPanel)
        panel.add([trace_line(raw, T0) for raw in ELECTION] * 10)
        await pilot.pause()
        table, fields = panel.table.region, panel.query_one("#message-detail").region
        assert table.bottom <= fields.y and fields.bottom <= panel.region.bottom, (table, fields)
        assert "missed" in str(panel.query_one("#message-detail", Static).render())
