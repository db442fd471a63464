"""What every menu command works with: the operations, the terminal, the printer, and answers.

``ask_int`` and ``pick`` turn typed answers into values or raise ``BadInput`` (an ``OpsError``),
which the shell shows as one ``❌`` line before the menu comes back.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

from console.ops.errors import OpsError
from console.ops.line_feed import LineFeed
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
    # Where the last monitor of each feed stopped, so the next one continues from there.
    monitor_positions: weakref.WeakKeyDictionary[LineFeed, int] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    async def ask(self, prompt: str, completions: Sequence[str] = ()) -> str:
        """The answer, trimmed."""
        return (await self.terminal.ask(prompt, completions)).strip()

    async def ask_int(
        self, prompt: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        """A whole number (``default`` when left empty) within the bounds."""
        answer = await self.ask(prompt)
        return parse_int(answer, default, minimum=minimum, maximum=maximum)

    async def pick(self, prompt: str, choices: Sequence[str]) -> str:
        """One of ``choices``, typed as its name or as its number in the list shown."""
        answer = await self.ask(prompt, choices)
        return pick(answer, choices)


def parse_int(answer: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    """``answer`` as a whole number within bounds; ``default`` when empty."""
    if not answer:
        return default
    try:
        value = int(answer)
    except ValueError:
        raise BadInput(f"{answer!r} is not a number") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise BadInput(f"{value} is out of range: type a number {bounds}")
    return value


def pick(answer: str, choices: Sequence[str]) -> str:
    """A choice by name, or by its 1-based number in ``choices``."""
    if answer in choices:
        return answer
    if answer.isdigit() and 1 <= int(answer) <= len(choices):
        return choices[int(answer) - 1]
    if not answer:
        raise BadInput("nothing was chosen")
    raise BadInput(f"{answer!r} is not one of the {len(choices)} listed; type a name or a number")
