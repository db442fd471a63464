"""The words both consoles share: node states and the menu prompt (no cluster)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import cast

from console.ops.cluster import ClusterStatus
from console.ops.operations import Operations
from console.repl.commands.cluster import print_status
from console.repl.context import Context
from console.repl.menu import PROMPT
from console.repl.printer import Printer
from console.repl.shell import CHOICES
from console.repl.terminal import Terminal


def test_a_paused_node_is_shown_paused_not_down() -> None:
    view = {
        "leader": "node1",
        "term": 3,
        "nodes": [
            {"node_id": "node1", "role": "leader", "http": {"up": True}, "state": "running"},
            {"node_id": "node2", "role": "down", "http": {"up": False}, "state": "paused"},
            {"node_id": "node3", "role": "down", "http": {"up": False}, "state": "exited"},
            {"node_id": "node4", "role": "follower", "http": {"up": True}},  # not managed
        ],
    }
    status = ClusterStatus.from_view(view)

    shown = [node.shown_role for node in status.nodes]
    assert shown == ["leader", "paused", "down", "follower"]


def test_a_node_the_gateway_restarted_is_marked_with_its_restarts() -> None:
    def entry(node_id: str, **fields: object) -> dict[str, object]:
        base = {"node_id": node_id, "role": "follower", "http": {"up": True}, "managed": True}
        return base | fields

    view = {
        "leader": "node1",
        "term": 3,
        "nodes": [
            entry("node1", role="leader", restarts=0, exit_code=None),
            entry("node2", restarts=12, exit_code=-9),
            entry("node3", restarts=1, exit_code=70),
            entry("node4"),  # an older gateway: no restarts field
        ],
    }
    status = ClusterStatus.from_view(view)

    marked = [(n.marked_id, n.last_exit) for n in status.nodes]
    assert marked == [
        ("node1", None),
        ("node2 ↻12", "signal 9"),
        ("node3 ↻1", "code 70"),
        ("node4", None),
    ]
    out = io.StringIO()
    ctx = Context(cast(Operations, None), cast(Terminal, _Terminal(False)), Printer(stream=out))
    print_status(ctx, status)
    lines = out.getvalue().splitlines()
    assert any(line.startswith("  node2 ↻12 ") for line in lines), lines
    assert max(len(line) for line in lines) <= 80, lines


def test_the_menu_prompt_names_every_option() -> None:
    assert f"(1-{CHOICES[-1]})" in PROMPT and CHOICES[-1] == 36


class _Terminal:
    """Answers from a list, counting the questions."""

    def __init__(self, interactive: bool, *answers: str) -> None:
        self.interactive = interactive
        self.answers = list(answers)
        self.asked: list[str] = []

    async def ask(self, prompt: str, completions: Sequence[str] = (), history: str = "") -> str:
        self.asked.append(prompt)
        return self.answers.pop(0)


def _context(terminal: _Terminal, *, confirm: bool = True) -> Context:
    return Context(
        cast(Operations, None),
        cast(Terminal, terminal),
        Printer(stream=io.StringIO()),
        confirm=confirm,
    )


async def test_destructive_steps_are_asked_only_of_a_person_with_confirmations_on() -> None:
    person = _Terminal(True, "y", "", "maybe", "no")
    ctx = _context(person)
    assert [await ctx.confirmed("Kill node1?") for _ in range(3)] == [True, False, False]
    assert person.asked == ["Kill node1? (y/N): "] * 4  # "maybe" is asked again

    script = _Terminal(False)
    assert await _context(script).confirmed("Kill node1?") and script.asked == []
    yes = _Terminal(True)
    assert await _context(yes, confirm=False).confirmed("Kill node1?") and yes.asked == []
