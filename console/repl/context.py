"""What every menu command works with: the operations, the terminal, the printer, and answers.

``ask_int`` and ``pick`` turn typed answers into values or raise ``OpsError`` (``BadInput``),
which the shell shows as one ``❌`` line before the menu comes back.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

from console.ops.errors import OpsError
from console.ops.line_feed import LineFeed
from console.ops.numbers import MAX_WHOLE, is_choice_number, parse_whole
from console.ops.operations import Operations
from console.repl.monitor import ScriptPacing
from console.repl.printer import Printer
from console.repl.terminal import Terminal


class BadInput(OpsError):
    """An answer that does not fit the question."""


@dataclass
class Context:
    """One shell session's state shared by the commands."""

    ops: Operations
    terminal: Terminal
    printer: Printer
    script_pacing: ScriptPacing = field(default_factory=ScriptPacing)
    # Ask before what cannot be undone; off with --yes, and a script is never asked.
    confirm: bool = True
    # Where the last monitor of each feed stopped, so the next one continues from there.
    monitor_positions: weakref.WeakKeyDictionary[LineFeed, int] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    async def ask(self, prompt: str, completions: Sequence[str] = ()) -> str:
        """The answer, trimmed."""
        return (await self.terminal.ask(prompt, completions)).strip()

    async def confirmed(self, question: str) -> bool:
        """Whether to go ahead with what cannot be undone: asked only of a person at a
        terminal with confirmations on, and only ``y`` or ``yes`` goes ahead."""
        if not (self.confirm and self.terminal.interactive):
            return True
        return (await self.ask(f"{question} (y/N): ")).lower() in ("y", "yes")

    async def ask_int(
        self, prompt: str, field: str, default: int, *, minimum: int = 0, maximum: int = MAX_WHOLE
    ) -> int:
        """A whole number (``default`` when left empty) within the bounds."""
        return parse_whole(
            await self.ask(prompt), field, default=default, minimum=minimum, maximum=maximum
        )

    async def pick(self, prompt: str, choices: Sequence[str]) -> str:
        """One of ``choices``, typed as its name or as its number in the list shown."""
        answer = await self.ask(prompt, choices)
        return pick(answer, choices)


def pick(answer: str, choices: Sequence[str]) -> str:
    """A choice by name, or by its 1-based number in ``choices``."""
    if answer in choices:
        return answer
    if is_choice_number(answer, len(choices)):
        return choices[int(answer) - 1]
    if not answer:
        raise BadInput("nothing was chosen")
    raise BadInput(f"{answer!r} is not one of the {len(choices)} listed; type a name or a number")
