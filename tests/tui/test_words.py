"""The dashboard's words: node states, hints and errors that name its own keys."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.text import Text
from textual.widgets import Static

from console.ops.errors import OpsError
from console.ops.streams import NewStreamError
from console.tui.app import GateConsole
from console.tui.cluster.panel import node_cells
from console.tui.cluster.timeline import transitions
from console.tui.dialogs import create
from console.tui.dialogs.form import FormDialog
from domain.greenhouse.catalogue import EVENT_TYPES
from tests.tui.recorded import HEALTHY, RecordedOps, node


def test_a_paused_node_reads_paused_in_the_table_and_the_timeline() -> None:
    paused = replace(node("node2", "follower", up=False), state="paused")
    role = node_cells(paused)[1]
    assert isinstance(role, Text) and role.plain.strip() == "paused"

    after = replace(HEALTHY, nodes=(HEALTHY.nodes[0], paused, HEALTHY.nodes[2]))
    assert transitions(HEALTHY, after) == ["node2 paused (was follower)"]


async def test_the_empty_feeds_hint_names_keys_that_work_there() -> None:
    app = GateConsole(RecordedOps(None, empty=True).as_operations(), blink=False)
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        status = str(app.query_one("#feed-status", Static).render())
        assert "create an observer (3, then n)" in status
        await pilot.press("3", "n")
        await pilot.pause()
        assert isinstance(app.screen, FormDialog)
        assert "Create Observer by Stream" in str(app.screen.query_one(".title", Static).render())


async def test_a_new_streams_error_names_the_dashboards_key() -> None:
    recorded = RecordedOps(None)

    async def new_stream(*args: object) -> None:
        raise NewStreamError("greenhouse-9 is a new stream: its first event must be …")

    recorded.streams.append_event = new_stream  # type: ignore[method-assign]
    dialog = create.append_event(recorded.as_operations(), [], None, blink=False)
    values = {
        "stream": "greenhouse-9",
        "event_type": EVENT_TYPES[1],
        "data": "%{temperature: 20}",
        "count": "",
    }
    with pytest.raises(OpsError, match=r"\(key a in Streams\)$") as raised:
        await dialog.submit(values)
    assert "option" not in str(raised.value)


def test_a_restarted_node_that_comes_back_level_with_the_leader_reads_caught_up() -> None:
    down = replace(
        HEALTHY, nodes=(HEALTHY.nodes[0], node("node2", "follower", up=False), HEALTHY.nodes[2])
    )
    assert transitions(down, HEALTHY) == ["node2 back up, caught up"]
