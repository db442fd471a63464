"""A lesson played while recording replays with its narration: the lesson records, read back and
shown in the replay's lesson pane as they were at each moment.

The replays play ``tests/tui/recordings/lesson.gate.gz``, a real lesson run recorded by
``python -m tests.tui.lesson_session FILE`` (a real 3-node cluster, the dashboard with
``--record``'s recorder playing the lesson of ``tests/tui/lesson_session.py``, two other seats in
the room): step 1 shown at 0.14 s, step 2's question open at 1.66 s and answered node2 at 3.12 s
(node1 killed, node2 took over), step 3's question open at 3.70 s and answered no at 5.16 s, the
recap at 5.22 s, the end at 6.19 s.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import TabbedContent

from console.ops.lesson_view import LessonView
from console.ops.operations import Operations
from console.ops.recording import Recorder, read_recording
from console.ops.replay import READ_ONLY, Playback, ReplayOps
from console.ops.room import ROOM_ENV
from console.ops.session import SessionOptions
from console.tui.lesson.pane import LessonPane
from console.tui.replay import ReplayConsole
from tests.cluster_harness import RunningCluster
from tests.tui.lesson_session import LESSON, NAME, PaneText, pane_text, record_lesson, seat_the_room
from tests.tui.test_replay import RECORDING as FAILOVER
from tests.tui.test_replay import Clock, drawn_as, screen_text

RECORDING = Path(__file__).with_name("recordings") / "lesson.gate.gz"
SIZE = (120, 36)
QUESTION_AT = 2.0  # step 2's question open, step 1's transcript under it
ANSWERS_AT = 4.0  # step 3's question open, step 2's transcript with the room's answers
RECAP_AT = 6.0


pytestmark = pytest.mark.usefixtures("utc")


# -- the records -------------------------------------------------------------------------------

STEP = LessonView("Lesson T", "step", 1, 2, "Who leads?")
RUNNING = replace(STEP, state="running")
ASKING = LessonView(
    "Lesson T", "asking", 2, 2, "Predict.", "Who leads?", ("node1", "node2"),
    transcript=("👉 14", "Leader: node1"),
)  # fmt: skip
ANSWERED = replace(ASKING, state="running", answer="node2", transcript=())
DONE = LessonView(
    "Lesson T", "done", steps=2, recap=("2 steps played, none failed",),
    transcript=("❓ You answered node2",),
)  # fmt: skip
# (when, what the pane showed): the views a lesson's pane went through.
CHANGES: list[tuple[float, LessonView | None]] = [
    (0.5, STEP),
    (0.6, STEP),  # unchanged: no record
    (1.0, RUNNING),
    (1.1, replace(RUNNING, transcript=("👉 14",))),
    (1.2, replace(RUNNING, transcript=("👉 14", "Leader: node1"))),
    (2.0, ASKING),
    (3.0, ANSWERED),
    (3.1, replace(ANSWERED, transcript=("❓ You answered node2",))),
    (4.0, DONE),
    (5.0, None),  # Esc closed the pane
]


def test_a_lesson_pane_round_trips_through_a_recording(tmp_path: Path) -> None:
    clock = Clock()
    start = clock.now
    path = tmp_path / "lesson.gate.gz"
    recorder = Recorder(path, ["node1"], clock=clock)
    for when, view in CHANGES:
        clock.now = start + when
        recorder.lesson(view)
    recorder.close()
    recording = read_recording(path)
    assert recording.notice == ""
    records = recording.records
    assert [r.t for r in records] == [0.5, 1.0, 1.1, 1.2, 2.0, 3.0, 3.1, 4.0, 5.0]
    # A line of the transcript is the line only; a step's fields once.
    assert records[3].data == {"keep": 1, "out": ["Leader: node1"]}
    assert records[4].data["keep"] == 2 and records[4].data["out"] == []
    assert records[5].data["keep"] == 0 and records[5].data["view"]["answer"] == "node2"

    def shown_at(when: float) -> LessonView | None:
        return next((view for at, view in reversed(CHANGES) if at <= when), None)

    ops = ReplayOps(path, recording)
    playback = Playback(records)
    for when in (0.0, 0.5, 1.15, 2.5, 3.05, 3.5, 4.5, 5.0):
        for record in playback.until(when):
            ops.apply(record)
        assert ops.lesson == shown_at(when), when
        again = ReplayOps(path, recording)  # a seek back: from the first record
        for record in Playback(records).until(when):
            again.apply(record)
        assert again.lesson == ops.lesson, when
    assert [*ANSWERED.text(), "❓ You answered node2"] == [
        "📖 Lesson T · step 2/2 · running…",
        "Predict.",
        "❓ Who leads?",
        " 1  node1   [2] node2   · you answered node2",
        "❓ You answered node2",
    ]
    assert ASKING.text()[0] == "📖 Lesson T · step 2/2 · 1…2 answers, then it runs · Esc closes"
    assert DONE.text() == [
        "📖 Lesson T · done: what you saw · Esc closes",
        "• 2 steps played, none failed",
        "❓ You answered node2",
    ]


def test_bad_or_cut_lesson_records_are_one_line(tmp_path: Path) -> None:
    lines = gzip.decompress(RECORDING.read_bytes()).splitlines()
    done = next(i for i, line in enumerate(lines) if b'"state":"done"' in line)
    garbage = [
        {"t": 1.0, "k": "lesson"},
        {"t": 1.0, "k": "lesson", "view": {"title": "x", "state": "dancing"}, "keep": 0, "out": []},
        {"t": 1.0, "k": "lesson", "view": [1], "keep": 0, "out": []},
        {"t": 1.0, "k": "lesson", "keep": -1, "out": []},
        {"t": 1.0, "k": "lesson", "keep": 0, "out": [1]},
        {"t": 1.0, "k": "lesson", "view": {"title": 1, "state": "step"}, "keep": 0, "out": []},
    ]
    bad = [json.dumps(line).encode() for line in garbage]
    path = tmp_path / "garbled.gate.gz"
    # The recap's line cut in its middle: a console killed while it wrote it.
    cut = lines[done][: len(lines[done]) // 2]
    path.write_bytes(gzip.compress(b"\n".join(lines[:5] + bad + lines[5:done] + [cut])))
    recording = read_recording(path)
    assert recording.notice == (
        "garbled.gate.gz: its last line was cut (the console recording it was stopped); "
        "6 unreadable lines skipped"
    )
    ops = ReplayOps(path, recording)
    for record in recording.records:
        ops.apply(record)
    assert ops.lesson is not None and ops.lesson.state == "running" and ops.lesson.step == 3


# -- the console -------------------------------------------------------------------------------


def console(clock: Clock | None = None, path: Path = RECORDING) -> ReplayConsole:
    app = ReplayConsole(ReplayOps(path, read_recording(path)), paused=True, clock=clock or Clock())
    app.animation_level = "none"
    return app


async def test_seeking_and_stepping_show_the_pane_played_through() -> None:
    clock = Clock()
    app = console(clock)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(LessonPane)
        await pilot.pause()
        assert not pane.display  # nothing recorded yet
        played: dict[float, tuple[PaneText, str]] = {}
        await pilot.press("space")  # play, a tenth of a second at a time, as the timer does
        for when in (QUESTION_AT, ANSWERS_AT, RECAP_AT):
            while app.playback.now < when:
                clock.now += 0.1
                app.tick()
            await pilot.press("space")
            await pilot.pause()
            played[app.playback.now] = (pane_text(app), screen_text(app))
            await pilot.press("space")
        await pilot.press("space")
        question, running, recap = (text for text, _ in played.values())
        assert question is not None and running is not None and recap is not None
        assert "step 2/3 · 1…4 answers, then it runs" in question[0]
        assert "❓ Which node leads after node1 dies?" in question[1]
        assert " 1  node1    2  node2    3  node3    4  nobody" in question[1]
        assert "step 3/3 · 1…2 answers" in running[0]
        assert running[2][-3:] == (
            "❓ Step 2 asked: Which node leads after node1 dies?",
            "❓ You answered node2: right, the answer was node2 (the leader after the step)",
            "❓ The room, 3 seats answered: node1 0, node2 2 ✓, node3 1, nobody 0",
        )
        assert "done: what you saw" in recap[0]
        assert "• Step 3 asked: Did the cluster lose an event?" in recap[1]
        assert "• The room, 3 seats answered: yes 1, no 2" in recap[1]

        await pilot.press("right_curly_bracket")  # the end, then back to each moment
        for at, (text, drawn) in reversed(played.items()):
            await app.seek(at)
            await pilot.pause()
            assert pane_text(app) == text, at
            await drawn_as(pilot, app, drawn)
        await pilot.press("left_curly_bracket")  # the start: no pane
        await pilot.pause()
        assert not pane.display
        for at, (text, drawn) in played.items():  # forward from the start
            await app.seek(at)
            await pilot.pause()
            assert pane_text(app) == text, at
            await drawn_as(pilot, app, drawn)
        await pilot.press("left_curly_bracket")
        first = next(iter(played))
        while app.playback.now < first:  # record by record
            await pilot.press("full_stop")
        await pilot.pause()
        stepped, at = pane_text(app), app.playback.now
        assert stepped is not None and "step 2/3 · 1…4 answers" in stepped[0]
        await pilot.press("right_square_bracket")  # 5 s on: the end, the recap
        await pilot.pause()
        assert pane_text(app) == played[max(played)][0]
        await app.seek(at)
        await pilot.pause()
        assert pane_text(app) == stepped
        await pilot.press("right_curly_bracket", "left_square_bracket")  # 5 s before the end
        await pilot.pause()
        back = pane_text(app)
        assert app.playback.now < 1.6 and back is not None  # before step 1 ran
        assert "step 1/3 · Enter or . runs it" in back[0] and back[2] == ()


async def test_a_recorded_question_is_not_answered_in_a_replay() -> None:
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await app.seek(QUESTION_AT)
        await pilot.pause()
        before, panel = pane_text(app), app.query_one(TabbedContent).active
        assert before is not None and "1…4 answers" in before[0]
        await pilot.press("2")  # a seat's answer: the room answered when it was recorded
        await pilot.pause()
        assert app.last_message == f"⚠️  {READ_ONLY}"
        assert app.query_one(TabbedContent).active == panel
        app.query_one(LessonPane).focus()
        await pilot.press("enter", "escape")  # no step to run, no lesson of its own to close
        await pilot.pause()
        assert pane_text(app) == before and app.playback.now == QUESTION_AT
        await app.seek(RECAP_AT)  # no question open: the digits are the panels' again
        await pilot.press("2")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "feed"


async def test_a_recording_without_a_lesson_shows_no_pane() -> None:
    assert read_recording(FAILOVER).header.version == 1  # recorded before lesson records
    app = console(path=FAILOVER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_curly_bracket")
        await pilot.pause()
        assert not app.query_one(LessonPane).display


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_lesson_recorded_on_a_cluster_replays_as_its_pane_showed_it(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = await make_cluster()
    lesson = tmp_path / NAME
    lesson.write_text(LESSON)
    room = tmp_path / "room"
    room.mkdir()
    seat_the_room(room, lesson)
    monkeypatch.setenv(ROOM_ENV, str(room))
    path = tmp_path / "lesson.gate.gz"
    ops = await Operations.open(SessionOptions(connect=cluster.url), seed=7, health_interval=0.5)
    try:
        panes = await record_lesson(ops, path, lesson)
    finally:
        await ops.close()
    recording = read_recording(path)
    assert recording.notice == ""
    records = [record for record in recording.records if record.kind == "lesson"]
    assert len(records) == len(panes)
    done = panes[-1]
    assert done is not None and "done: what you saw" in done[0], done
    assert "❓ The room, 3 seats answered: yes 1, no 2" in done[2]

    monkeypatch.delenv(ROOM_ENV)  # a replay sits in no classroom
    app = ReplayConsole(ReplayOps(path, recording), paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_curly_bracket")
        # Each moment a lesson record was written (the last of those at one time), sought
        # back to: the pane shows what the live one did then.
        for index in reversed(range(len(records))):
            at = records[index].t
            if index + 1 < len(records) and records[index + 1].t == at:
                continue
            await app.seek(at)
            await pilot.pause()
            assert pane_text(app) == panes[index], (index, at)
        await pilot.press("ctrl+q")
