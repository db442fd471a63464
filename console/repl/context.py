"""What every menu command works with: the operations, the terminal, the printer, and answers.

``answer`` checks each answer the moment it is given: at a terminal a bad one is one ``❌`` line
and the same question again; in a script (where the next line was written for the next question)
it raises the ``OpsError``, which the shell shows before the menu comes back.  An empty answer
to a question without a default, Ctrl+C or Ctrl+D raises ``Cancelled``: back to the menu.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from console.ops.answers import yes_or_no
from console.ops.errors import OpsError
from console.ops.lesson_recap import Asked
from console.ops.line_feed import LineFeed
from console.ops.numbers import MAX_WHOLE, parse_whole
from console.ops.operations import Operations
from console.repl.monitor import ScriptPacing
from console.repl.printer import Printer
from console.repl.terminal import Terminal

T = TypeVar("T")


class BadInput(OpsError):
    """An answer that does not fit the question."""


class Cancelled(Exception):
    """The person left the question (empty answer, Ctrl+C, Ctrl+D): back to the menu."""


def parsed(parse: Callable[[str], T]) -> Callable[[str], Awaitable[T]]:
    """A plain parser as the checker ``Context.answer`` takes."""

    async def check(text: str) -> T:
        return parse(text)

    return check


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
    # The questions ``ask`` lines asked whose step has not ended yet (checked when it does),
    # and the lesson's step they belong to (0: gate-repl, which reads no steps).
    asked: list[Asked] = field(default_factory=list)
    step: int = 0
    # The dashboard's seat answered the step's question with a key before the step ran.
    seat_answer: str | None = None

    async def ask(self, prompt: str, history: str, completions: Sequence[str] = ()) -> str:
        """The answer, trimmed; ``history`` names the prompt's own list of earlier answers."""
        try:
            return (await self.terminal.ask(prompt, completions, history)).strip()
        except KeyboardInterrupt:
            raise Cancelled from None
        except EOFError:
            if self.terminal.interactive:
                raise Cancelled from None
            raise  # the script ended: so does the session

    async def answer(
        self,
        prompt: str,
        check: Callable[[str], Awaitable[T]],
        *,
        history: str,
        completions: Sequence[str] = (),
        optional: bool = False,
    ) -> T:
        """The checked answer; ``optional`` when an empty answer means the default (``check``
        reads it), else an empty answer cancels."""
        while True:
            text = await self.ask(prompt, history, completions)
            if not text and not optional:
                raise Cancelled
            try:
                return await check(text)
            except OpsError as exc:
                if not self.terminal.interactive:
                    raise
                self.printer.error(str(exc))

    async def confirmed(self, question: str) -> bool:
        """Whether to go ahead with what cannot be undone: asked only of a person at a
        terminal with confirmations on, and only ``y`` or ``yes`` goes ahead."""
        if not (self.confirm and self.terminal.interactive):
            return True
        return await self.yes(f"{question} (y/N): ")

    async def yes(self, prompt: str) -> bool:
        """A y/N question (empty is no)."""
        return await self.answer(prompt, parsed(yes_or_no), history="yes", optional=True)

    async def ask_int(
        self,
        prompt: str,
        field: str,
        default: int,
        *,
        minimum: int = 0,
        maximum: int = MAX_WHOLE,
        history: str = "count",
    ) -> int:
        """A whole number (``default`` when left empty) within the bounds."""

        def parse(text: str) -> int:
            return parse_whole(text, field, default=default, minimum=minimum, maximum=maximum)

        return await self.answer(prompt, parsed(parse), history=history, optional=True)
