"""A lesson played inside the dashboard (``gate-console --lesson FILE``), against recorded data:
the narration pane, Enter running each step through the menu shell's commands, the panels
following, the recap at the end, and what a bad lesson file or a failing step shows.

The snapshots (``snapshots/test_lesson/``) were rendered to PNG and looked at.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RichLog, Static, TabbedContent

from console.ops.lessons import LESSONS_ENV
from console.ops.session import Access
from console.repl.menu import PROMPT
from console.tui.app import GateConsole
from console.tui.lesson.pane import LessonPane
from console.tui.lesson.player import panel_for
from tests.tui.recorded import NEW_LEADER, RecordedOps
from tests.tui.test_snapshots import SMALL, settle

Compare = Callable[..., bool]
LARGE = (120, 36)
LESSON = """\
# Lesson R: a recorded failover.
# Played against recorded data by tests/tui/test_lesson.py.
#
# Who leads? node1, the preferred leader, in term 3.
14
# Kill the leader (Enter = the leader): node2 takes over in term 4.
18

# Two producers write; the observers count their events.
7
2
# A node that is not in the cluster is one line, and the lesson goes on.
16
node9
15
"""


@pytest.fixture
def lesson(tmp_path: Path) -> Path:
    path = tmp_path / "recorded-failover.txt"
    path.write_text(LESSON)
    return path


def console(path: Path) -> tuple[GateConsole, RecordedOps]:
    recorded = RecordedOps()
    app = GateConsole(recorded.as_operations(), blink=False, lesson=path)
    app.animation_level = "none"
    return app, recorded


def pane_text(app: GateConsole) -> tuple[str, str, list[str]]:
    """The pane's title, narration and transcript, as text."""
    pane = app.query_one(LessonPane)
    title = str(pane.query_one("#lesson-title", Static).render())
    narration = str(pane.query_one("#lesson-narration", Static).render())
    shown = "\n".join(strip.text for strip in pane.query_one("#lesson-output", RichLog).lines)
    # Each line is on the screen (folded where the pane is narrower).
    assert all(
        line.replace(" ", "") in shown.replace("\n", "").replace(" ", "")
        for line in pane.transcript
    )
    return title, narration, pane.transcript


async def next_step(pilot: Pilot[Any], recorded: RecordedOps | None = None) -> None:
    """Press Enter and wait until the step has run; after the kill, the cluster view shows
    the new leader (as the health monitor would)."""
    app = pilot.app
    assert isinstance(app, GateConsole)
    await pilot.press("enter")
    await settle(app)
    if recorded is not None:
        recorded.health.show(NEW_LEADER)
        app.drain()
    await pilot.pause()


def count_events(recorded: RecordedOps, seen: int) -> None:
    """The observer $all has seen ``seen`` events more (what the producers wrote)."""
    observer = recorded.observers.observers["reg_gh:$all"]
    observer.row_data = replace(observer.row_data, seen=observer.row_data.seen + seen)


async def test_a_lesson_step_by_step_with_its_recap(lesson: Path) -> None:
    app, recorded = console(lesson)
    async with app.run_test(size=LARGE) as pilot:
        await settle(app)
        title, narration, output = pane_text(app)
        assert title.endswith(
            "Lesson R: a recorded failover. · step 1/4 · Enter or . runs it · Esc closes"
        )
        assert narration == "Who leads? node1, the preferred leader, in term 3."
        assert output == []
        assert isinstance(app.focused, LessonPane)

        await next_step(pilot)
        title, narration, output = pane_text(app)
        assert "step 2/4" in title
        assert narration.startswith("Kill the leader (Enter = the leader)")
        # The menu shell's own transcript of option 14.
        assert output[0] == f"{PROMPT}14"
        assert "Leader: node1 (term 3) · 3/3 nodes up" in output
        assert app.query_one(TabbedContent).active == "cluster"

        await next_step(pilot, recorded)
        assert recorded.cluster.actions == [(None, "kill")]
        _, narration, output = pane_text(app)
        assert "✅ Killed node1 (the leader); node2 took over in 1.2 s (term 4)" in output
        assert narration.startswith("Two producers write")

        await next_step(pilot)
        count_events(recorded, 25)
        assert recorded.producers.started == [2]
        assert app.query_one(TabbedContent).active == "producers"  # the panel follows
        assert isinstance(app.focused, LessonPane)  # and Enter stays the lesson's

        # A look at the observers takes the keyboard to their table; "." runs the next step.
        await pilot.press("3")
        assert not isinstance(app.focused, LessonPane)
        await pilot.press("enter")  # the table's Enter, not the lesson's
        await settle(app)
        assert "step 4/4" in pane_text(app)[0]
        await pilot.press("full_stop")
        await settle(app)
        await pilot.pause()
        assert isinstance(app.focused, LessonPane)
        title, narration, output = pane_text(app)
        assert "❌ no node 'node9' in this cluster (nodes: node1, node2, node3)" in output
        assert title.endswith("Lesson R: a recorded failover. · done: what you saw · Esc closes")
        assert narration.splitlines() == [
            "• Leader: node1 (term 3) before, node2 (term 4) after",
            "• Nodes: killed node1 (the leader) in step 2, node2 took over",
            "• Nodes up at the end: 2 of 3",
            "• Events seen by the observers during the lesson: reg_gh:$all 25, john 0",
            "• Parked events now: my_sub 4, heat 2",
            "• 4 steps played; step 4 failed: ❌ no node 'node9' in this cluster (nodes: "
            "node1, node2, node3)",
        ]
        await pilot.press("enter")  # nothing more to play
        await settle(app)
        assert recorded.cluster.actions == [(None, "kill")]
        await pilot.press("escape")
        assert not app.query_one(LessonPane).display


async def test_a_bad_lesson_file_is_one_line_and_the_dashboard_goes_on(tmp_path: Path) -> None:
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    app, _ = console(tmp_path / "missing.txt")
    async with app.run_test(size=SMALL) as pilot:
        await settle(app)
        _, narration, _ = pane_text(app)
        assert narration == f"❌ {tmp_path / 'missing.txt'}: no such lesson file"
        await pilot.press("enter")  # nothing to run: no crash
        app.open_lesson(binary)
        await pilot.pause()
        _, narration, _ = pane_text(app)
        assert narration == f"❌ {binary}: not a lesson (a binary file)"
        await pilot.press("escape", "2")
        assert app.query_one(TabbedContent).active == "feed"
        assert app.is_running


async def test_a_step_that_wants_more_answers_than_it_has(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_text("# Start producers, but the count is in the next step.\n7\n# Too late.\n2\n")
    app, recorded = console(path)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app)
        await next_step(pilot)
        _, _, output = pane_text(app)
        assert output[-1] == (
            "❌ Step 1 ended inside an option: it wanted more answers than the step's lines give"
        )
        assert recorded.producers.started == []
        await next_step(pilot)  # "2" at the menu: option 2 wants an event type it lacks
        title, narration, _ = pane_text(app)
        assert "done" in title and "step 1 failed: ❌ Step 1 ended inside an option" in narration


async def test_the_palette_lists_the_bundled_lessons_and_opens_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(LESSONS_ENV, raising=False)
    app = GateConsole(RecordedOps().as_operations(), blink=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app)
        assert not app.query_one(LessonPane).display
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        lessons = [title for title in commands if title.startswith("Lesson")]
        assert len(lessons) == 13 and "Lesson 5: a failover." in lessons
        commands["Lesson 5: a failover."].callback()
        await pilot.pause()
        title, narration, _ = pane_text(app)
        assert "Lesson 5: a failover. · step 1/6" in title
        assert narration == "Who leads? (node1, the preferred leader, on a fresh start)"


def test_each_option_shows_on_its_panel() -> None:
    assert panel_for("14") == "cluster" and panel_for("18") == "cluster"
    assert panel_for("1") == "observers" and panel_for("5") == "feed"
    assert panel_for("7") == "producers" and panel_for("11") == "subscriptions"
    assert panel_for("13") == "streams" and panel_for("12") == "streams"
    assert panel_for("15") is None and panel_for("wait 3") is None and panel_for("") is None


def played(*presses: int) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Run the lesson's steps (Enter), the kill seen by the cluster view."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, GateConsole)
        await settle(app)
        recorded: Any = app.ops
        for step in range(presses[0] if presses else 0):
            await next_step(pilot, recorded if step == 1 else None)
            if step == 2:
                count_events(recorded, 25)
        await settle(app)
        await pilot.pause()

    return run


def test_narration_small_terminal(snap_compare: Compare, lesson: Path) -> None:
    """At 80x24: the panels above, the first step's narration under them, Enter in the footer."""
    app, _ = console(lesson)
    assert snap_compare(app, run_before=played(), terminal_size=SMALL)


def test_narration_after_a_step_large(snap_compare: Compare, lesson: Path) -> None:
    """At 120x36, after the kill: the next step's narration and the kill's transcript."""
    app, _ = console(lesson)
    assert snap_compare(app, run_before=played(2), terminal_size=LARGE)


def test_recap_small_terminal(snap_compare: Compare, lesson: Path) -> None:
    """At 80x24, the lesson done: what you saw."""
    app, _ = console(lesson)
    assert snap_compare(app, run_before=played(4), terminal_size=SMALL)


def test_recap_large(snap_compare: Compare, lesson: Path) -> None:
    """At 120x36: the recap and, under it, the last step's transcript."""
    app, _ = console(lesson)
    assert snap_compare(app, run_before=played(4), terminal_size=LARGE)


def test_palette_lessons_small_terminal(
    snap_compare: Compare, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80x24, Ctrl+P and "lesson": the bundled lessons, by their titles."""
    monkeypatch.delenv(LESSONS_ENV, raising=False)
    app = GateConsole(RecordedOps().as_operations(), blink=False)
    app.animation_level = "none"

    async def run(pilot: Pilot[Any]) -> None:
        await settle(app)
        await pilot.press("ctrl+p", *"lesson")
        await pilot.pause()
        await settle(app)
        for box in app.screen.query(Input):
            box.cursor_blink = False
        await pilot.pause()

    assert snap_compare(app, run_before=run, terminal_size=SMALL)


async def test_a_reader_console_plays_a_lesson_with_the_menus_refusals(tmp_path: Path) -> None:
    path = tmp_path / "faults.txt"
    path.write_text("# Kill the leader.\n18\n\n# Who leads?\n14\n")
    recorded = RecordedOps(access=Access("student-7", "reader", "tokens"))
    app = GateConsole(recorded.as_operations(), blink=False, lesson=path)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app)
        await next_step(pilot)
        _, _, output = pane_text(app)
        # The menu shell's refusal, word for word (the empty line after it, read at the menu,
        # would show the menu in gate-repl; the dashboard has none to show).
        assert "❌ Option 18: Kill Node needs the admin role; this console runs as reader" in output
        assert recorded.cluster.actions == []
        await next_step(pilot)
        _, narration, _ = pane_text(app)
        assert "• Leader: node1 (term 3) from start to end" in narration
        assert "step 1 failed: ❌ Option 18: Kill Node needs the admin role" in narration
