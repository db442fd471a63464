"""A recorded session replayed reproduces its screens: snapshots of ``gate-console --replay``.

Each test plays ``tests/tui/recordings/failover.gate.gz`` (a real session, see
``tests/tui/test_replay.py``) paused, seeks to 5 s in (node1 was killed at 4.1 s; node2 and
node3 campaign; node2 wins at 5.4 s) and draws the Cluster or the Messages panel.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from console.tui.replay import ReplayConsole
from tests.tui.test_replay import console
from tests.tui.test_snapshots import SMALL, Compare, settle

LARGE = (120, 36)
AT = 5.0  # seconds into the recording


pytestmark = pytest.mark.usefixtures("utc")


def at(*keys: str) -> Any:
    """Seek to AT, press ``keys``, wait until all is drawn."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ReplayConsole)
        await app.seek(AT)
        await pilot.press(*keys)
        await settle(app)
        await pilot.pause()

    return run


def test_replayed_cluster_small(snap_compare: Compare) -> None:
    assert snap_compare(console(), run_before=at(), terminal_size=SMALL)


def test_replayed_cluster_large(snap_compare: Compare) -> None:
    assert snap_compare(console(), run_before=at(), terminal_size=LARGE)


def test_replayed_messages_small(snap_compare: Compare) -> None:
    assert snap_compare(console(), run_before=at("7"), terminal_size=SMALL)


def test_replayed_messages_large(snap_compare: Compare) -> None:
    assert snap_compare(console(), run_before=at("7"), terminal_size=LARGE)
