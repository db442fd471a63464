"""The Messages panel from a recorded trace: an election after the leader died, then a full
write rate summed up, as a sequence diagram; a selected message shows its fields.

Each SVG in ``snapshots/test_messages_panel/`` was rendered to PNG and looked at before it was
accepted (update with ``pytest tests/tui/test_messages_panel.py --snapshot-update``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, cast

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from console.ops.messages import UNFOLD_AT, MessageFeed, trace_line
from console.tui.app import GateConsole
from console.tui.messages.diagram import lanes
from console.tui.messages.panel import MessagesPanel, detail
from engine.client import GateClient
from engine.client.results import TraceBatch
from tests.tui.recorded import ELECTION, HEALTHY, SLOW_MOTION, T0, RecordedOps
from tests.tui.test_snapshots import SMALL, Compare, console, settle, steps

LARGE = (120, 36)


pytestmark = pytest.mark.usefixtures("utc")


def shown(*keys: str) -> Any:
    """The Messages panel (key 7) with the recorded trace drained into it, then ``keys``."""

    async def run(pilot: Pilot[Any]) -> None:
        await steps("7")(pilot)
        app = pilot.app
        assert isinstance(app, GateConsole)
        assert app.ops.messages.watching
        app.drain()
        await pilot.pause()
        for key in keys:  # each key's operation (d: a drop) done before the next key
            await pilot.press(key)
            await settle(app)
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
    removed = {"kind": "message", "time": T0, "dir": "send", "type": "removed",
               "frm": "node1", "to": "node4", "term": 4, "index": 812}  # fmt: skip
    line = trace_line(removed, T0)
    assert (line.text, line.ok) == ("removed t4 at 812", False)


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


SLOWED = replace(HEALTHY, tempo=20)


def test_slow_motion_each_heartbeat_an_arrow_one_dropped_small(snap_compare: Compare) -> None:
    """Tempo ×1/20: every heartbeat and answer its own row, each answer 0.95 s after what it
    answers; node1's newest heartbeat to node2 (:45) selected and dropped (d): its arrow ends in
    ✗ (seen from the row above, selected)."""
    app = console(SLOWED, trace=SLOW_MOTION)
    keys = ("up", "d", "up")
    assert snap_compare(app, run_before=shown(*keys), terminal_size=SMALL)


def test_slow_motion_each_heartbeat_an_arrow_one_dropped_large(snap_compare: Compare) -> None:
    """The dropped row selected: its fields say it was never received."""
    app = console(SLOWED, trace=SLOW_MOTION)
    keys = ("up", "d")
    assert snap_compare(app, run_before=shown(*keys), terminal_size=LARGE)


def _recorded(app: GateConsole) -> RecordedOps:
    return cast(RecordedOps, app.ops)


async def test_d_drops_the_selected_message_and_the_timeline_says_so() -> None:
    app = console(SLOWED, trace=SLOW_MOTION)
    async with app.run_test(size=LARGE) as pilot:
        await shown("up", "d")(pilot)
        await settle(app)
        ops = _recorded(app)
        assert ops.messages.tempo == 20  # told, so it asks for every heartbeat
        assert ops.cluster.dropped == [("node1", 120)]
        panel = app.query_one(MessagesPanel)
        assert panel.dropped == {("node1", 120)}
        assert lanes(panel.lines[20], panel.nodes, True).plain == "    ●──────✗│       │   "
        timeline = "\n".join(str(line.text) for line in app.query_one("#timeline").lines)
        assert "✗ node1 → node2 heartbeat t3 commit 1251: dropped in flight" in timeline
        # One that has arrived already: one line, and no mark.
        ops.cluster.arrived.add(121)  # the next row: node1's heartbeat to node3
        await pilot.press("down", "d")
        await settle(app)
        assert panel.dropped == {("node1", 120)}
        assert "has arrived already" in app.last_message
        # A folded line is not one message: nothing to drop.
        panel.add([trace_line(ELECTION[0], T0)])
        await pilot.press("space", "d")
        await settle(app)
        assert "select a message first" in app.last_message


class _TraceClient:
    """What MessageFeed asks of a client: the trace's parameters, and no line."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []

    def trace(self, **params: Any) -> AsyncIterator[TraceBatch]:
        self.asked.append(params.get("heartbeats"))

        async def nothing() -> AsyncIterator[TraceBatch]:
            await asyncio.Event().wait()
            yield {"type": "trace", "time": 0.0, "interval": 0.5, "lines": []}

        return nothing()


async def test_the_feed_unfolds_heartbeats_from_tempo_10_and_asks_again() -> None:
    client = _TraceClient()
    feed = MessageFeed(cast(GateClient, client))
    feed.watch(True)
    await asyncio.sleep(0)
    feed.unfold(5)  # not slow enough: nothing changes
    await asyncio.sleep(0)
    feed.unfold(UNFOLD_AT)
    await asyncio.sleep(0)
    feed.unfold(20)  # still unfolded: not asked again
    await asyncio.sleep(0)
    feed.unfold(1)
    await asyncio.sleep(0)
    await feed.stop()
    assert client.asked == ["fold", "show", "fold"]


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
