"""Playing a lesson's steps in the dashboard, through the menu shell's own commands.

A step's answer lines go to ``gate-repl``'s :class:`~console.repl.shell.ReplShell` exactly as
a script on stdin would: its script terminal reads them, ``ReplShell.choose`` turns each menu
answer into the option's command (or a ``wait``), and the command checks every answer with the
operations layer's readers and words what it did with ``console.ops.outcomes``.  So a number
means in a dashboard what it means in the menu, by one path; the commands act on the
dashboard's own :class:`~console.ops.operations.Operations`, so the panels show what a step did,
and what they print (tables, outcomes, a monitor's lines) is the step's transcript.

The commands reach the cluster through a thin wrapper that notes the node actions a step takes,
for the recap (:mod:`console.ops.lesson_recap`).

A step that opens with an ``ask`` line is played once the seat answered in the pane: its answer
goes to the menu shell's own ``ask`` (``Context.seat_answer``; one path, the transcript as
gate-repl's); after the step the question is checked, and in a classroom the
answer is written to the room and the room's tally read (:mod:`console.ops.room`).
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable
from typing import Any, Literal, TextIO, cast

from console.ops.catalogue import NUMBERED, Panel, numbered
from console.ops.cluster import LinksResult, NodeActionResult
from console.ops.errors import OpsError
from console.ops.lesson_recap import Asked, Look, NodeEvent, Record
from console.ops.lessons import Step
from console.ops.numbers import is_choice_number
from console.ops.operations import Operations
from console.ops.room import Room, question_key
from console.repl.commands.script import check_asked
from console.repl.context import Context
from console.repl.menu import PROMPT
from console.repl.printer import Printer
from console.repl.shell import ReplShell
from console.repl.terminal import ScriptTerminal
from engine.client import GateError

log = logging.getLogger(__name__)

Played = Literal["done", "exit", "ended"]
# The panel that shows what an option did; an option with keys shows on its keys' panel.
_SHOWN_ON: dict[str, Panel] = {
    "cluster_status": "cluster",
    "node_detail": "cluster",
    "node_log": "cluster",
    "list_observers": "observers",
    "monitor": "feed",
    "list_producers": "producers",
    "list_subscriptions": "subscriptions",
    "view_stream": "streams",
}


def panel_for(answer: str) -> Panel | None:
    """The panel that shows what the menu answer's option does (None: not an option)."""
    if not is_choice_number(answer, max(NUMBERED)):
        return None
    entry = numbered(int(answer))
    if entry.name in _SHOWN_ON:
        return _SHOWN_ON[entry.name]
    return entry.keys[0].panel if entry.keys else None


class LineWriter(io.TextIOBase):
    """A text stream that hands each complete line to ``on_line`` (the printer's output)."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        super().__init__()
        self.on_line = on_line
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self.on_line(line)
        return len(text)


class _NotedCluster:
    """The session's cluster operations, noting what each step does to a node."""

    def __init__(self, cluster: Any, note: Callable[[NodeEvent], None], step: Callable[[], int]):
        self._cluster = cluster
        self._note = note
        self._step = step

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cluster, name)

    async def act(self, node_id: str | None, action: str, *, wait: bool = True) -> NodeActionResult:
        result: NodeActionResult = await self._cluster.act(node_id, action, wait=wait)
        after = result.leader if result.settled else None
        self._note(NodeEvent(self._step(), action, result.node_id, result.was_leader, after))
        return result

    async def isolate(
        self, node_id: str, peers: list[str] | None = None, direction: str = "both"
    ) -> LinksResult:
        result: LinksResult = await self._cluster.isolate(node_id, peers, direction)
        self._note(NodeEvent(self._step(), "isolate", result.after.node_id, result.was_leader))
        return result

    async def heal(
        self, node_id: str, peers: list[str] | None = None, direction: str = "both"
    ) -> LinksResult:
        result: LinksResult = await self._cluster.heal(node_id, peers, direction)
        self._note(NodeEvent(self._step(), "heal", result.after.node_id, result.was_leader))
        return result


class _LessonOps:
    """The dashboard's operations as a lesson's commands see them: the same objects, with the
    cluster's node actions noted."""

    def __init__(self, ops: Operations, cluster: _NotedCluster) -> None:
        self._ops = ops
        self.cluster = cluster

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ops, name)


async def look(ops: Operations) -> Look | None:
    """The session now, for the recap; None when the cluster does not answer."""
    try:
        status = await ops.cluster.status()
    except (OpsError, GateError):
        return None
    seen = {row.name: row.seen for row in ops.observers.rows()}
    parked: dict[str, int] | None = None
    with contextlib.suppress(OpsError, GateError):
        parked = {row.name: row.parked for row in await ops.subscriptions.rows()}
    return Look(status.leader, status.term, status.nodes_up, len(status.nodes), seen, parked)


class StepRunner:
    """Runs steps of one lesson against the dashboard's operations, recording for the recap."""

    def __init__(
        self,
        ops: Operations,
        record: Record,
        on_line: Callable[[str], None],
        show_panel: Callable[[Panel], None],
        *,
        lesson: str = "lesson",
        room: Room | None = None,
    ) -> None:
        self.ops = ops
        self.lesson = lesson
        self.room = room
        self.record = record
        self.on_line = on_line
        self.show_panel = show_panel
        self.step = 0
        cluster = _NotedCluster(ops.cluster, record.nodes.append, lambda: self.step)
        self._ops = cast(Operations, _LessonOps(ops, cluster))
        self.printer = Printer(stream=cast(TextIO, LineWriter(self._line)))
        self._failure: str | None = None

    def _line(self, line: str) -> None:
        if line.startswith("❌") and self._failure is None:
            self._failure = line
        self.on_line(line)

    async def play(self, step: Step, seat_answer: str | None = None) -> Played:
        """Run the step's answers as the menu shell would read them from a script: ``exit``
        after option 15, ``ended`` when an option wanted more answers than the step has.
        ``seat_answer``: the seat's answer to the step's question."""
        self.step = step.number
        self._failure = None
        if step.ask is not None and seat_answer is not None and self.room is not None:
            try:
                self.room.answer(question_key(self.lesson, step.number, step.ask), seat_answer)
            except OpsError as exc:  # the lesson goes on; the room's tally will say
                self.on_line(f"⚠️  {exc}")
        terminal = ScriptTerminal(io.StringIO(step.text), self.printer)
        # A script is never asked to confirm (Context.confirmed): a lesson neither.
        ctx = Context(self._ops, terminal, self.printer, step=step.number, seat_answer=seat_answer)
        shell = ReplShell(ctx, menu=False)
        played: Played = "done"
        while True:
            try:
                answer = (await terminal.ask(PROMPT, shell.choices())).strip()
            except EOFError:
                break
            panel = panel_for(answer)
            if panel is not None:
                self.show_panel(panel)
            chosen = await shell.choose(answer)
            if chosen != "more":
                played = chosen
                break
        if played == "ended":
            self._line(
                f"❌ Step {step.number} ended inside an option: it wanted more answers "
                "than the step's lines give"
            )
        for asked in ctx.asked:
            await check_asked(self.ops, asked)
            self.tally(asked)
            self.record.asked.append(asked)
            for line in asked.lines():
                self.on_line(f"❓ {line}")
        self.record.steps_played += 1
        if self._failure is not None:
            self.record.failures.append((step.number, self._failure))
        return played

    def tally(self, asked: Asked) -> None:
        """How the room answered ``asked`` so far (nothing outside a classroom)."""
        if self.room is None:
            return
        key = question_key(self.lesson, asked.step, asked.ask)
        try:
            asked.room, asked.room_error = self.room.tally(key, asked.ask), None
        except OpsError as exc:
            asked.room, asked.room_error = None, str(exc)
