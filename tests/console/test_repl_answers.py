"""How gate-repl takes an answer (issue #15, point 9), without a cluster: a bad one is one ❌ line
and the same question again at a terminal, and the ❌ line then the menu in a script; an empty
answer, Ctrl+C or Ctrl+D at a question cancels; each kind of question keeps its own history."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from typing import cast

import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from console.ops.errors import OpsError
from console.ops.operations import Operations
from console.repl.context import Cancelled, Context
from console.repl.printer import Printer
from console.repl.terminal import PromptTerminal, Terminal


class _Terminal:
    """Answers from a list (an exception is raised instead), noting each question's history."""

    def __init__(self, interactive: bool, *answers: str | BaseException) -> None:
        self.interactive = interactive
        self.answers = list(answers)
        self.asked: list[tuple[str, str]] = []

    async def ask(self, prompt: str, completions: Sequence[str] = (), history: str = "") -> str:
        self.asked.append((prompt, history))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def until_interrupt(self) -> None:
        raise AssertionError("no monitor here")


def _context(terminal: _Terminal) -> tuple[Context, io.StringIO]:
    transcript = io.StringIO()
    ctx = Context(cast(Operations, None), cast(Terminal, terminal), Printer(stream=transcript))
    return ctx, transcript


async def test_a_person_is_asked_again_after_each_bad_answer() -> None:
    person = _Terminal(True, "ten", "-1", "99999999999999999999999", " 7 ")
    ctx, transcript = _context(person)
    assert await ctx.ask_int("Count (default 3): ", "count", 3, maximum=10) == 7
    assert transcript.getvalue().splitlines() == [
        "❌ count must be a whole number from 0 to 10, not 'ten'",
        "❌ count must be at least 0",
        "❌ count must be a whole number from 0 to 10",
    ]
    assert person.asked == [("Count (default 3): ", "count")] * 4


async def test_a_script_gets_the_error_and_goes_back_to_the_menu() -> None:
    script = _Terminal(False, "ten", "7")
    ctx, transcript = _context(script)
    with pytest.raises(OpsError, match="not 'ten'"):
        await ctx.ask_int("Count (default 3): ", "count", 3)
    assert len(script.asked) == 1 and script.answers == ["7"]  # "7" is the menu's to read
    assert transcript.getvalue() == ""  # the shell prints the error, once


async def test_empty_ctrl_c_and_ctrl_d_cancel_a_question() -> None:
    for answer in ("", KeyboardInterrupt(), EOFError()):
        ctx, _ = _context(_Terminal(True, answer))
        with pytest.raises(Cancelled):
            await ctx.answer("Name: ", _strip, history="name")
    # With a default, empty is the default; in a script, the end of input ends the session.
    ctx, _ = _context(_Terminal(True, ""))
    assert await ctx.ask_int("Count (default 3): ", "count", 3) == 3
    ctx, _ = _context(_Terminal(False, EOFError()))
    with pytest.raises(EOFError):
        await ctx.answer("Name: ", _strip, history="name")


async def _strip(text: str) -> str:
    return text.strip()


@pytest.mark.parametrize("key", ["\x1b", "q", "\x03", "\x04"])
async def test_a_monitor_ends_on_each_of_its_keys_esc_alone_too(key: str) -> None:
    # Issue #15's monkey: a lone Esc stayed in the key parser (the start of an escape
    # sequence?) and the monitor never ended, though the screen says Esc ends it.
    with create_pipe_input() as keys:
        terminal = PromptTerminal(
            history=lambda kind: InMemoryHistory(), input=keys, output=DummyOutput()
        )
        keys.send_text("x" + key)  # a key that does not stop it, then the one that does
        await asyncio.wait_for(terminal.until_interrupt(), 5)
