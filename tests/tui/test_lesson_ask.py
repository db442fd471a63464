"""A lesson that asks (``ask "Question?" a|b|c -> leader``), played in the dashboard against
recorded data: the question and its keys in the pane, the digits answering it (not switching
panels) while it is open, the step running on the answer, and the seat's and the room's
answers in the transcript and the recap.

The snapshots (``snapshots/test_lesson_ask/``) were rendered to PNG and looked at.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import RichLog, TabbedContent

from console.ops.lessons import read_lesson
from console.ops.room import ROOM_ENV, Room, question_key
from console.repl.menu import PROMPT
from console.tui.app import GateConsole
from console.tui.lesson.pane import LessonPane
from tests.tui.recorded import NEW_LEADER, RecordedOps
from tests.tui.test_lesson import LARGE, Compare, pane_text
from tests.tui.test_snapshots import SMALL, settle

LESSON = """\
# Lesson Q: predict a failover.
# Played against recorded data by tests/tui/test_lesson_ask.py.
#
# Who leads? node1, the preferred leader, in term 3.
14
# Predict, then watch: the leader is killed (Enter = the leader).
ask "Which node leads after node1 dies?" node2|node3|nobody -> leader
18

# A question nothing checks: the room's answers are the point.
ask "Did the observer miss an event?" yes|no
14
"""


@pytest.fixture
def lesson(tmp_path: Path) -> Path:
    path = tmp_path / "predict.txt"
    path.write_text(LESSON)
    return path


def console(path: Path) -> tuple[GateConsole, RecordedOps]:
    """The dashboard on recorded data, where a kill shows the new leader at once (as a real
    kill waits for it)."""
    recorded = RecordedOps()
    app = GateConsole(recorded.as_operations(), blink=False, lesson=path)
    app.animation_level = "none"
    act = recorded.cluster.act

    async def kill(node_id: str | None, action: str, *, wait: bool = True) -> Any:
        result = await act(node_id, action, wait=wait)
        recorded.health.show(NEW_LEADER)
        return result

    recorded.cluster.act = kill  # type: ignore[method-assign]
    return app, recorded


async def press(pilot: Pilot[Any], *keys: str) -> None:
    app = pilot.app
    assert isinstance(app, GateConsole)
    await pilot.press(*keys)
    await settle(app)
    await pilot.pause()


async def test_a_question_answered_with_a_key_then_its_step_runs(
    lesson: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A classroom of three more seats (other tabs' processes) that answered already.
    room = tmp_path / "room"
    room.mkdir()
    monkeypatch.setenv(ROOM_ENV, str(room))
    steps = read_lesson(lesson).steps
    who = steps[1].ask
    missed = steps[2].ask
    assert who is not None and missed is not None
    key = question_key("predict.txt", 2, who)
    for seat, choice in (("tab-a", "node2"), ("tab-b", "node2"), ("tab-c", "nobody")):
        Room(room, seat).answer(key, choice)

    app, recorded = console(lesson)
    async with app.run_test(size=LARGE) as pilot:
        await settle(app)
        await press(pilot, "enter")  # step 1: who leads
        title, narration, _ = pane_text(app)
        assert "step 2/3 · 1…3 answers, then it runs · Esc closes" in title
        assert narration.splitlines() == [
            "Predict, then watch: the leader is killed (Enter = the leader).",
            "❓ Which node leads after node1 dies?",
            " 1  node2    2  node3    3  nobody",
        ]
        pane = app.query_one(LessonPane)
        assert pane.asking == steps[1] and isinstance(app.focused, LessonPane)
        # Enter does not run a step whose question is open; nor does "." from a panel.
        await press(pilot, "enter", "full_stop")
        assert recorded.cluster.actions == [] and pane.asking == steps[1]
        # The keyboard in a panel's table: a digit still answers, never switches panels.
        app.screen.set_focus(app.query_one("#nodes"))
        shown = app.query_one(TabbedContent).active
        await press(pilot, "2")
        assert app.query_one(TabbedContent).active == shown
        assert recorded.cluster.actions == [(None, "kill")]
        assert isinstance(app.focused, LessonPane)
        _, narration, output = pane_text(app)
        assert output[:3] == [
            PROMPT + steps[1].answers[0],
            "❓ Which node leads after node1 dies?",
            "Your answer (1 node2 · 2 node3 · 3 nobody): node3",
        ]
        assert output[-3:] == [
            "❓ Step 2 asked: Which node leads after node1 dies?",
            "❓ You answered node3: wrong, the answer was node2 (the leader after the step)",
            "❓ The room, 4 seats answered: node2 2 ✓, node3 1, nobody 1",
        ]
        # This seat's answer is in the room for the other tabs.
        assert Room(room, "tab-a").tally(key, who) == {"node2": 2, "node3": 1, "nobody": 1}
        assert narration.splitlines()[1] == "❓ Did the observer miss an event?"

        # Two choices: 3 is no answer here, and no panel key while the question is open.
        await press(pilot, "3")
        assert pane.asking == steps[2] and app.query_one(TabbedContent).active == shown
        Room(room, "tab-a").answer(question_key("predict.txt", 3, missed), "no")
        # A seat that answers step 2's question after this one still counts in the recap.
        Room(room, "tab-d").answer(key, "node2")
        await press(pilot, "2")
        title, narration, output = pane_text(app)
        assert "❓ You answered no" in output
        assert "done: what you saw" in title
        assert (
            narration.splitlines()[-7:]
            == [
                "• Step 2 asked: Which node leads after node1 dies?",
                "• You answered node3: wrong, the answer was node2 (the leader after the step)",
                "• The room, 5 seats answered: node2 3 ✓, node3 1, nobody 1",
                "• Step 3 asked: Did the observer miss an event?",
                "• You answered no",
                "• The room, 2 seats answered: yes 0, no 2",
                "• 3 steps played, none failed",
            ][-8:]
        )


async def test_outside_a_classroom_the_recap_has_the_seat_alone(
    lesson: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ROOM_ENV, raising=False)
    app, _ = console(lesson)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app)
        await press(pilot, "enter", "1")
        _, _, output = pane_text(app)
        assert output[-1] == (
            "❓ You answered node2: right, the answer was node2 (the leader after the step)"
        )
        await press(pilot, "1")
        _, narration, _ = pane_text(app)
        assert "• You answered yes" in narration.splitlines()
        assert not any("room" in line for line in narration.splitlines())


async def test_a_room_gone_is_one_line_and_the_lesson_goes_on(
    lesson: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ROOM_ENV, str(tmp_path / "stopped-serving"))
    app, recorded = console(lesson)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app)
        await press(pilot, "enter", "1")
        _, _, output = pane_text(app)
        assert output[0].startswith("⚠️  the room's answers (") and "cannot be written" in output[0]
        assert output[-1].startswith("❓ The room: cannot tell (the room's answers (")
        assert output[-1].endswith("are gone (serving stopped?))")
        assert recorded.cluster.actions == [(None, "kill")]


def asked(pilot_steps: int = 1) -> Any:
    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, GateConsole)
        await settle(app)
        for _ in range(pilot_steps):
            await press(pilot, "enter")
        await settle(app)
        # The transcript scrolls to its end after a refresh (RichLog defers it): a loaded
        # machine may take the picture before, so wait for it (bounded, like settle).
        log = app.query_one("#lesson-output", RichLog)
        deadline = time.monotonic() + 10
        while not log.is_vertical_scroll_end and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert log.is_vertical_scroll_end

    return run


def test_question_small_terminal(
    snap_compare: Compare, lesson: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80x24: the step's narration, its question and the choices with their keys."""
    monkeypatch.delenv(ROOM_ENV, raising=False)
    app, _ = console(lesson)
    assert snap_compare(app, run_before=asked(), terminal_size=SMALL)


def test_question_large(
    snap_compare: Compare, lesson: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 120x36: the question under step 1's transcript (option 14's table)."""
    monkeypatch.delenv(ROOM_ENV, raising=False)
    app, _ = console(lesson)
    assert snap_compare(app, run_before=asked(), terminal_size=LARGE)


async def test_at_80x24_a_long_narration_reads_as_one_paragraph_and_the_choices_show() -> None:
    """The bundled 09-predict.txt: step 2's narration is two comment lines of 86 and 28
    characters. Kept as lines, the first folded at 78 and left "hold an" alone on a row, and
    the narration outgrew its rows so that the choices, the keys to answer, were cut off."""
    path = Path(__file__).parents[2] / "examples" / "lessons" / "09-predict.txt"
    app, _ = console(path)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app)
        await press(pilot, "enter")  # step 1 runs; step 2 asks
        narration = app.query_one("#lesson-narration")
        text = str(narration.render())
        assert text.startswith(
            "Predict, then watch: the leader is killed (Enter = the leader). The other two hold "
            "an election among themselves.\n❓ Which node leads after node1 dies?"
        )
        needed = narration.get_content_height(app.size, app.size, narration.content_region.width)
        assert narration.content_region.height >= needed, "the choices are cut off"


async def test_at_80x24_the_choices_of_a_question_show_under_a_long_narration(
    tmp_path: Path,
) -> None:
    """While a question waits for its answer, the narration takes the pane's rows it needs
    (the last step's transcript gives them up): the choices are what the seat must see."""
    long = "# " + " ".join(["The leader is killed and the others elect one of their own."] * 4)
    path = tmp_path / "long.txt"
    path.write_text(f'# Lesson L.\n#\n{long}\nask "Who leads then?" node2|node3|nobody\n14\n')
    app, _ = console(path)
    async with app.run_test(size=SMALL):
        await settle(app)
        narration = app.query_one("#lesson-narration")
        assert str(narration.render()).endswith(" 1  node2    2  node3    3  nobody")
        needed = narration.get_content_height(app.size, app.size, narration.content_region.width)
        assert narration.content_region.height >= needed, "the choices are cut off"
