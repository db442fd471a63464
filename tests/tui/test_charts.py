"""Snapshots of the live charts (``G``) from five recorded minutes (tests/tui/recorded_charts.py):
sparklines at 80x24, plotext charts at 120x36, under the Cluster, Feed and Subscriptions panels.

Each SVG in ``snapshots/test_charts/`` was rendered to PNG and looked at before it was accepted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from console.tui.app import GateConsole
from tests.tui.recorded_charts import play, recorded_console
from tests.tui.test_snapshots import Compare, settle

SIZES = {"80x24": (80, 24), "120x36": (120, 36)}


def charts_of(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Play the five minutes, show a panel and its charts."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, GateConsole)
        await settle(app)
        await play(app)
        await pilot.press(*keys, "G")
        app.drain()
        await pilot.pause()
        await settle(app)
        await pilot.pause()

    return run


@pytest.mark.parametrize("size", SIZES)
def test_cluster_charts(snap_compare: Compare, size: str) -> None:
    """Per node: commit rate, lag, probe latency; node1 killed at 2:00, node2 elected, node3
    killed at 4:00, each marked."""
    app = recorded_console()
    assert snap_compare(app, run_before=charts_of(), terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_feed_charts(snap_compare: Compare, size: str) -> None:
    """Events per second by type: none while there was no leader."""
    app = recorded_console()
    assert snap_compare(app, run_before=charts_of("2"), terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_subscription_charts(snap_compare: Compare, size: str) -> None:
    """Checkpoint vs head: my_sub fell behind after the failover and caught up; heat, with no
    consumer, only falls behind."""
    app = recorded_console()
    assert snap_compare(app, run_before=charts_of("5"), terminal_size=SIZES[size])
