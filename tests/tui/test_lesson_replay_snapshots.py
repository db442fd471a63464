"""A recorded lesson replayed shows its pane: snapshots of ``gate-console --replay`` with it.

Each test plays ``tests/tui/recordings/lesson.gate.gz`` (a real lesson run, see
``tests/tui/test_lesson_replay.py``) paused and seeks to step 3's question, open over step 2's
transcript (this seat's answer checked, the room's tally), or to the recap at the end.  The
snapshots (``snapshots/test_lesson_replay_snapshots/``) were rendered to PNG and looked at.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from console.tui.replay import ReplayConsole
from tests.tui.test_lesson_replay import ANSWERS_AT, RECAP_AT, console
from tests.tui.test_snapshots import SMALL, Compare, settle

LARGE = (120, 36)


pytestmark = pytest.mark.usefixtures("utc")


def at(when: float) -> Any:
    """Seek to ``when``, wait until all is drawn."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ReplayConsole)
        await app.seek(when)
        await settle(app)
        await pilot.pause()

    return run


def test_replayed_question_small(snap_compare: Compare) -> None:
    assert snap_compare(console(), run_before=at(ANSWERS_AT), terminal_size=SMALL)


def test_replayed_question_large(snap_compare: Compare) -> None:
    assert snap_compare(console(), run_before=at(ANSWERS_AT), terminal_size=LARGE)


def test_replayed_recap_small(snap_compare: Compare) -> None:
    assert snap_compare(console(), run_before=at(RECAP_AT), terminal_size=SMALL)


def test_replayed_recap_large(snap_compare: Compare) -> None:
    assert snap_compare(console(), run_before=at(RECAP_AT), terminal_size=LARGE)
