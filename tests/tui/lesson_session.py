"""A real lesson played and recorded by the dashboard, and what its pane showed, for replay tests.

:func:`record_lesson` runs ``GateConsole --lesson`` with a :class:`~console.ops.recording.Recorder`
on a real cluster, in a classroom whose two other seats answered already (``GATE_ROOM``): step 1
shows who leads, step 2 asks who leads once the leader is killed (this seat answers node2) and
kills it, step 3 asks a question nothing checks (this seat answers no); then the recap, the
seat reading each step for three looks at the cluster (1.5 s) before its key.  It
answers what the pane showed at each change the recorder was handed, so a replay can be checked
against it.  The recording the replay tests play (``tests/tui/recordings/lesson.gate.gz``) was
made by ``python -m tests.tui.lesson_session FILE``, which runs the same lesson on a cluster of
its own.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from console.ops.lesson_view import LessonView
from console.ops.lessons import read_lesson
from console.ops.operations import Operations
from console.ops.recording import Recorder
from console.ops.room import ROOM_ENV, Room, question_key
from console.ops.session import SessionOptions
from console.tui.app import GateConsole
from console.tui.lesson.pane import LessonPane
from tests.cluster_harness import start_cluster_async
from tests.tui.replay_session import SIZE, until

NAME = "recorded-predict.txt"
LESSON = """\
# Lesson P: a prediction, recorded.
# Recorded on a real cluster by tests/tui/lesson_session.py; replayed by its tests.
#
# Who leads? node1, the preferred leader, on a fresh start.
14
# Predict, then watch: the leader is killed (Enter = the leader).
ask "Which node leads after node1 dies?" node1|node2|node3|nobody -> leader
18

# A question nothing checks: how the room answered is the point.
ask "Did the cluster lose an event?" yes|no
14
"""
KEYS = ("enter", "2", "2")  # step 1 runs; node2 to step 2's question; no to step 3's
# The classroom's two other seats, who answered before this one.
SEATS = {"tab-a": ("node2", "no"), "tab-b": ("node3", "yes")}

PaneText = tuple[str, str, tuple[str, ...]] | None


def pane_text(app: GateConsole) -> PaneText:
    """The lesson pane's title, narration and transcript as drawn (None: hidden)."""
    pane = app.query_one(LessonPane)
    if not pane.display:
        return None
    title = str(pane.query_one("#lesson-title", Static).render())
    narration = str(pane.query_one("#lesson-narration", Static).render())
    return title, narration, tuple(pane.transcript)


class WatchedConsole(GateConsole):
    """The dashboard, noting what the lesson pane showed each time the recorder was handed it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.panes: list[PaneText] = []

    def record_lesson(self, view: LessonView | None) -> None:
        written = self.recorder.records if self.recorder is not None else 0
        super().record_lesson(view)
        if self.recorder is not None and self.recorder.records > written:
            self.panes.append(pane_text(self))


def seat_the_room(room: Path, lesson: Path) -> None:
    """The other seats' answers, in the room's folder."""
    steps = read_lesson(lesson).steps
    for seat, answers in SEATS.items():
        for step, choice in zip(steps[1:], answers, strict=True):
            assert step.ask is not None
            Room(room, seat).answer(question_key(NAME, step.number, step.ask), choice)


async def looks(pilot: Pilot[Any], ops: Operations, count: int) -> None:
    """Until the health monitor took ``count`` more looks at the cluster."""
    for _ in range(count):
        seen = ops.health.updates
        await until(pilot, lambda s=seen: ops.health.updates > s, "a health sample")


async def record_lesson(ops: Operations, path: Path, lesson: Path) -> list[PaneText]:
    """Record the lesson played to its recap (``GATE_ROOM`` set by the caller); answers what
    the pane showed at each lesson record, in order."""
    status = await ops.cluster.status()
    recorder = Recorder(path, [node.node_id for node in status.nodes])
    app = WatchedConsole(ops, blink=False, recorder=recorder, lesson=lesson)
    try:
        async with app.run_test(size=SIZE) as pilot:
            pane = app.query_one(LessonPane)
            header = app.query_one("#status-text", Static)
            await until(pilot, lambda: "leader" in str(header.render()), "the header")
            for number, key in enumerate(KEYS, 1):
                await looks(pilot, ops, 3)  # the seat reads the step a while
                await pilot.press(key)

                def played(n: int = number) -> bool:
                    return pane.record.steps_played == n and not pane.running

                await until(pilot, played, f"step {number} played", timeout=60)
            await until(pilot, lambda: pane.finished, "the recap")
            await looks(pilot, ops, 2)
            app.drain()
            app.recorder = None  # the recording ends here
            await pilot.press("ctrl+q")
    finally:
        recorder.close()
    return app.panes


async def _main(path: Path) -> None:
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        lesson = folder / NAME
        lesson.write_text(LESSON)
        room = folder / "room"
        room.mkdir()
        seat_the_room(room, lesson)
        os.environ[ROOM_ENV] = str(room)
        cluster = await start_cluster_async(folder, 3)
        try:
            ops = await Operations.open(
                SessionOptions(connect=cluster.url), seed=7, health_interval=0.5
            )
            try:
                await record_lesson(ops, path, lesson)
            finally:
                await ops.close()
        finally:
            await cluster.embedded.stop()


if __name__ == "__main__":
    asyncio.run(_main(Path(sys.argv[1])))
