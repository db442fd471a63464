"""The narration pane: a lesson's current step, Enter to run it, and its recap at the end.

The pane sits under the panels while a lesson is open.  Its top line names the lesson, the
step and the keys; under it the step's narration (the lesson's comments), and under that the
transcript of the step that ran last (what its options printed, as ``gate-repl`` prints it).
Enter runs the step in the dashboard (``player.py``), switching to the panel that shows what
each option does, and the panels move; after the last step (or option 15) the pane shows "what
you saw", computed from what was recorded meanwhile.  A step that opens with an ``ask`` line
shows its question and numbered choices instead of waiting for Enter: the keys 1 to 9 answer
it (from any panel: while it is open they are the question's, not the panels'), and the answer
runs the step.  A lesson that cannot be read or a step
that fails is one line here; the dashboard goes on.

What the pane shows is a :class:`~console.ops.lesson_view.LessonView`: the pane draws it, hands
each new one to ``on_view`` (a recording console's recorder), and a replay's pane draws the
recorded ones (:meth:`LessonPane.draw`), so a replay shows the pane as it was.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.events import Resize
from textual.widgets import RichLog, Static

from console.ops.catalogue import Panel
from console.ops.lesson_recap import Record, recap
from console.ops.lesson_view import LessonView
from console.ops.lessons import (
    MAX_CHOICES,
    Lesson,
    LessonError,
    Step,
    lesson_files,
    lessons_folder,
    read_lesson,
)
from console.ops.operations import Operations
from console.ops.room import Room
from console.tui.lesson.player import StepRunner, look

log = logging.getLogger(__name__)

# Runs the next step from anywhere on the dashboard, where Enter belongs to a panel's table.
NEXT_STEP_KEY = "full_stop"
LEADER_LOOK_SECONDS = 0.25  # how often the pane notes the leader the cluster view shows
_STYLES = {
    "❌": "bold red",
    "✅": "green",
    "⚠️": "yellow",
    "👉": "bold",
    "⏳": "dim",
    "❓": "bold cyan",
}


class Transcript(RichLog):
    """The step's output, kept at its end when it shrinks: the narration above it grows with
    the next step (a question and its choices) after the lines were written, and a log that
    only scrolls on writes would leave the newest lines out of sight."""

    def on_resize(self, event: Resize) -> None:
        # RichLog's own handler runs too (Textual calls each class's in turn).
        if self.auto_scroll:
            self.scroll_end(animate=False, immediate=False)


def _styled(line: str) -> Text:
    style = next((style for mark, style in _STYLES.items() if line.startswith(mark)), "")
    return Text(line, style=style)


class LessonPane(Vertical, can_focus=True):
    """A lesson's narration, its steps run by Enter, and its recap."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "next_step", "Next step"),
        Binding("escape", "close_lesson", "Close lesson"),
        *(
            Binding(str(number), f"answer({number})", "Answer", show=False)
            for number in range(1, MAX_CHOICES + 1)
        ),
    ]

    def __init__(
        self,
        ops: Operations,
        show_panel: Callable[[Panel], None],
        *,
        room: Room | None = None,
        on_view: Callable[[LessonView | None], None] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.ops = ops
        self.show_panel = show_panel
        self.room = room  # a served classroom's answers (GATE_ROOM), None elsewhere
        self.on_view = on_view  # each view drawn (None: the pane closed), for a recording
        self.shown: LessonView | None = None  # the view drawn, its transcript apart
        self.lesson: Lesson | None = None
        self.error: str | None = None  # why the lesson opened could not be read
        self.next_index = 0
        self.running = False
        self.finished = False
        self.record = Record()
        self.runner: StepRunner | None = None
        self.answer: str | None = None  # the seat's answer to the question of the step running
        self.recap_lines: list[str] = []
        self.transcript: list[str] = []  # the last step's lines, as the pane shows them

    def compose(self) -> ComposeResult:
        yield Static(id="lesson-title")
        yield Static(id="lesson-narration")
        yield Transcript(id="lesson-output", wrap=True, markup=False, max_lines=500)

    def on_mount(self) -> None:
        self.display = False
        self.set_interval(LEADER_LOOK_SECONDS, self._note_leader)

    # -- opening ----------------------------------------------------------------------------

    def open(self, path: Path) -> None:
        """Read the lesson in ``path`` and show its first step; a file that is not a lesson
        is one line in the pane."""
        if self.running:
            self.app.notify("A step is running: open the lesson once it is done", markup=False)
            return
        self.display = True
        self.query_one("#lesson-output", RichLog).clear()
        self.transcript = []
        self.recap_lines = []
        self.finished = False
        self.record = Record()
        self.next_index = 0
        self.error = None
        try:
            self.lesson = read_lesson(path)
        except LessonError as exc:
            self.lesson = None
            self.error = str(exc)
            self._show()
            self.focus()
            return
        self.runner = StepRunner(
            self.ops,
            self.record,
            self._out,
            self._show_panel,
            lesson=self.lesson.name,
            room=self.room,
        )
        self._show()
        self.focus()

    def _note_leader(self) -> None:
        sample = self.ops.health.latest
        playing = self.lesson is not None and self.record.before is not None and not self.finished
        if not playing or sample is None or sample.status is None:
            return
        self.record.saw_leader(sample.status.leader, sample.status.term)

    # -- drawing ----------------------------------------------------------------------------

    def view(self) -> LessonView | None:
        """What the pane shows now, its transcript apart (None: nothing, the pane is closed)."""
        lesson = self.lesson
        if lesson is None:
            if self.error is None or not self.display:
                return None
            return LessonView("Lesson", "failed", error=self.error)
        if self.finished:
            recap_lines = tuple(self.recap_lines)
            return LessonView(lesson.title, "done", steps=len(lesson.steps), recap=recap_lines)
        step = lesson.steps[self.next_index]
        ask = step.ask
        return LessonView(
            lesson.title,
            "running" if self.running else ("asking" if ask is not None else "step"),
            step.number,
            len(lesson.steps),
            " ".join(step.narration),
            "" if ask is None else ask.question,
            () if ask is None else ask.choices,
            self.answer if self.running else None,
        )

    def _show(self) -> None:
        """Draw the pane as the lesson stands (a step running: as it was when it started)."""
        view = self.view()
        if view is None:
            return
        self.shown = view
        self._draw(view)
        self._publish()

    def _publish(self) -> None:
        """Hand the view drawn, its transcript as it is now, to ``on_view``."""
        if self.on_view is not None:
            shown = self.shown
            lines = tuple(self.transcript)
            self.on_view(None if shown is None else dataclasses.replace(shown, transcript=lines))

    def draw(self, view: LessonView | None) -> None:
        """Show ``view``, its transcript too (a replay's pane: no lesson plays in it)."""
        self.display = view is not None
        if view is None:
            return
        self._draw(view)
        output = self.query_one("#lesson-output", RichLog)
        output.clear()
        for line in view.transcript:
            output.write(_styled(line))
        self.transcript = list(view.transcript)

    def _draw(self, view: LessonView) -> None:
        title = self.query_one("#lesson-title", Static)
        narration = self.query_one("#lesson-narration", Static)
        self.set_class(view.state == "done", "-done")
        self.set_class(bool(view.question) and view.state != "done", "-asking")
        self.refresh_bindings()
        title.update(Text.assemble(("📖 " + view.title, "bold"), view.status()))
        if view.state == "failed":
            narration.update(Text(f"❌ {view.error}", style="bold red"))
        elif view.state == "done":
            narration.update(Text("\n").join(Text(f"• {line}") for line in view.recap))
        else:
            # A step's comment lines are one paragraph wrapped for a text file: joined, the
            # pane wraps it at its own width (kept as lines, each folds and leaves a stub).
            words = Text(view.words(), style="italic")
            if view.question:
                words.append_text(self._question(view))
            narration.update(words)

    def _question(self, view: LessonView) -> Text:
        """The step's question and its choices with their keys (the one answered marked)."""
        text = Text.assemble("\n" if view.narration else "", ("❓ " + view.question, "bold cyan"))
        text.append("\n")
        for number, choice in enumerate(view.choices, 1):
            chosen = choice == view.answer
            text.append("   " if number > 1 else "")
            text.append(f" {number} ", style="reverse bold" if chosen else "bold")
            text.append(f" {choice}", style="bold" if chosen else "")
        if view.answer:
            text.append(f"   · you answered {view.answer}")
        return text

    def _out(self, line: str) -> None:
        self.transcript.append(line)
        self.query_one("#lesson-output", RichLog).write(_styled(line))
        self._publish()

    # -- playing ----------------------------------------------------------------------------

    @property
    def asking(self) -> Step | None:
        """The step whose question waits for this seat's answer, if any."""
        lesson = self.lesson
        # Past the last step the recap is being computed: nothing to ask any more.
        if lesson is None or self.running or self.finished or self.next_index >= len(lesson.steps):
            return None
        step = lesson.steps[self.next_index]
        return step if step.ask is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Enter is shown (and runs) while there is a step to run and no question open; the
        keys 1… answer while one is."""
        if action == "next_step":
            return self.lesson is not None and not self.finished and self.asking is None
        if action == "close_lesson":  # a replay's pane shows no lesson of its own to close
            return self.lesson is not None or self.error is not None
        if action == "answer":
            step = self.asking
            return (
                step is not None
                and step.ask is not None
                and parameters[0] in range(1, len(step.ask.choices) + 1)
            )
        return True

    def action_next_step(self) -> None:
        """Run the step shown (or, after the last, nothing); a question waits for its key."""
        if self.lesson is None or self.running or self.finished or self.asking is not None:
            return
        self.running = True
        self.answer = None
        self._show()
        self.run_step()

    def action_answer(self, number: int) -> None:
        """The seat's answer to the open question: then its step runs."""
        step = self.asking
        if step is None or step.ask is None or not 1 <= number <= len(step.ask.choices):
            return
        self.running = True
        self.answer = step.ask.choices[number - 1]
        self._show()
        self.run_step()

    @work(group="lesson", exit_on_error=False)
    async def run_step(self) -> None:
        """Play the step through the menu shell's commands, then show the next one."""
        lesson = self.lesson
        assert lesson is not None
        step = lesson.steps[self.next_index]
        self.query_one("#lesson-output", RichLog).clear()
        self.transcript = []
        self._publish()
        runner = self.runner
        assert runner is not None
        try:
            if self.next_index == 0:  # "before" is the moment the first step starts
                self.record.before = await look(self.ops)
                if self.record.before is not None:
                    self.record.saw_leader(self.record.before.leader, self.record.before.term)
            played = await runner.play(step, self.answer)
        except Exception as exc:  # never a traceback in the dashboard; the log keeps it
            log.exception("step %d of %s failed", step.number, lesson.name)
            line = f"❌ Step {step.number} failed: {type(exc).__name__}: {exc}"
            self._out(line)
            self.record.failures.append((step.number, line))
            played = "ended"
        self.running = False
        self.answer = None
        self.next_index += 1
        if played == "exit" or self.next_index >= len(lesson.steps):
            await self._finish()
        else:
            self._show()
        self.focus()

    def _show_panel(self, panel: Panel) -> None:
        self.show_panel(panel)
        self.focus()  # Enter stays the lesson's while the panels move

    async def _finish(self) -> None:
        self.record.after = await look(self.ops)
        if self.record.after is not None:
            self.record.saw_leader(self.record.after.leader, self.record.after.term)
        if self.runner is not None:
            for asked in self.record.asked:  # more seats may have answered since
                self.runner.tally(asked)
        self.recap_lines = recap(self.record)
        self.finished = True
        self._show()

    def step_from_anywhere(self) -> None:
        """The next step, asked for away from the pane (not under a dialog); the keyboard
        comes back to the pane."""
        if self.lesson is None or self.screen is not self.app.screen:
            return
        self.focus()
        self.action_next_step()

    def action_close_lesson(self) -> None:
        """Hide the pane (a running step finishes first)."""
        if self.running:
            self.app.notify("A step is running: close the lesson once it is done", markup=False)
            return
        self.lesson = None
        self.error = None
        self.display = False
        self.shown = None
        self._publish()


def lesson_commands(open_lesson: Callable[[Path], None]) -> Iterable[SystemCommand]:
    """The command palette's lessons: one entry per file of the lessons folder."""
    folder = lessons_folder()
    for path in lesson_files(folder):
        try:
            title = read_lesson(path).title
        except LessonError:
            title = path.stem
        # "Lesson 5: a failover." as it is; any other title says it is a lesson.
        shown = title if title.lower().startswith("lesson") else f"Lesson: {title}"
        yield SystemCommand(shown, f"play {path.name} here", partial(open_lesson, path))
