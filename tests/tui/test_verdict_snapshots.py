"""Snapshots of the live verdict line under the status bar (issue #25), at 80x24 and 120x36.

Rendered to PNG and looked at before they were accepted (see tests/tui/test_snapshots.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from console.tui.app import GateConsole
from engine.client.checker import LiveVerdict, Violation
from tests.tui.test_snapshots import Compare, console, steps

pytestmark = pytest.mark.usefixtures("utc")

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]
CLEAN = LiveVerdict(12_345, 12_345, 0, 0, 0, 0, 0, None)
LOST = Violation(
    "lost",
    "node2",
    "greenhouse-2",
    "5f0c2d9e-3a1b-4c7e-9f21-8d4b6a0e1c37",
    "acknowledged at 10,412, which holds greenhouse-3 77a1e0c4-0b9d-4a55-8e63-2f1d9c0b7a18",
)
VIOLATED = LiveVerdict(12_345, 12_340, 1, 0, 0, 0, 1, LOST)


def with_verdict(verdict: LiveVerdict, *keys: str) -> Any:
    """The console with this verdict from its producers, after ``keys``."""
    then = steps(*keys)

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, GateConsole)
        app.ops.verdict.latest = verdict  # type: ignore[misc]
        app.drain()
        await then(pilot)

    return run


@pytest.mark.parametrize("size", SIZES)
def test_verdict_all_well(snap_compare: Compare, size: tuple[int, int]) -> None:
    """The Cluster panel, under the status line what the producers' acknowledgements came to."""
    assert snap_compare(console(), run_before=with_verdict(CLEAN), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_verdict_first_violation(snap_compare: Compare, size: tuple[int, int]) -> None:
    """The first violation, in red, with its stream and event id (on the Producers panel)."""
    assert snap_compare(console(), run_before=with_verdict(VIOLATED, "4"), terminal_size=size)
