"""Where answers come from: a prompt-toolkit session at a terminal, or lines of a script.

Both raise ``EOFError`` at the end of input (Ctrl+D, or the end of the script) and the
interactive one ``KeyboardInterrupt`` on Ctrl+C, so the shell handles them in one place.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import WordCompleter
from prompt_toolkit.formatted_text import AnyFormattedText
from prompt_toolkit.history import History
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyPress
from prompt_toolkit.keys import Keys
from prompt_toolkit.output import Output

from console.ops.lessons import is_comment
from console.repl.printer import STYLE, Printer

# The history of the menu's prompt; each kind of question has its own.
MENU = "menu"
# Keys that end a live monitor and return to the menu.
_STOP_KEYS = (Keys.ControlC, Keys.ControlD, Keys.Escape, "q")
# Seconds a lone Esc may wait for the rest of an escape sequence (prompt-toolkit's ttimeoutlen).
_ESCAPE_WAIT = 0.5


class Terminal(Protocol):
    """The source of answers."""

    interactive: bool

    async def ask(self, prompt: str, completions: Sequence[str] = (), history: str = MENU) -> str:
        """Show ``prompt`` and answer the line typed (without its newline); ``history`` names
        the list of earlier answers that ↑ recalls (one per kind of question)."""
        ...

    async def until_interrupt(self) -> None:
        """Wait for Ctrl+C (or q / Esc); only meaningful for an interactive terminal."""
        ...


class PromptTerminal:
    """Prompt-toolkit sessions, one per kind of question (each its own history), with
    completion and a live bottom toolbar."""

    interactive = True

    def __init__(
        self,
        *,
        history: Callable[[str], History],
        toolbar: Callable[[], AnyFormattedText] | None = None,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        self._history = history
        self._toolbar = toolbar
        self._input = input
        self._output = output
        self._sessions: dict[str, PromptSession[str]] = {}
        # The prompt waiting for an answer right now, and how many were asked (tests watch).
        self.asking: str | None = None
        self.asked = 0

    def session(self, history: str = MENU) -> PromptSession[str]:
        """The session of one kind of question, made on first use."""
        session = self._sessions.get(history)
        if session is None:
            session = PromptSession(
                history=self._history(history),
                bottom_toolbar=self._toolbar,
                refresh_interval=1.0 if self._toolbar is not None else 0,
                style=STYLE,
                include_default_pygments_style=False,
                input=self._input,
                output=self._output,
                # The rows kept free under the menu prompt for its completions would push the
                # banner off an 80x24 screen; its few completions show above the prompt instead.
                reserve_space_for_menu=0 if history == MENU else 8,
            )
            self._sessions[history] = session
        return session

    async def ask(self, prompt: str, completions: Sequence[str] = (), history: str = MENU) -> str:
        """Prompt with completion over ``completions`` (matched anywhere in the words)."""
        completer = (
            WordCompleter(list(completions), sentence=True, match_middle=True)
            if completions
            else None
        )
        self.asking = prompt
        self.asked += 1
        try:
            # handle_sigint=False: the prompt reads Ctrl+C as a key; the shell owns SIGINT.
            return await self.session(history).prompt_async(
                [("class:prompt", prompt)],
                completer=completer,
                complete_while_typing=True,
                handle_sigint=False,
            )
        finally:
            self.asking = None

    async def until_interrupt(self) -> None:
        """Read keys raw until Ctrl+C, Ctrl+D, Esc or q (Ctrl+C never reaches a signal here)."""
        keys = self.session().input
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        flush: asyncio.TimerHandle | None = None

        def check(presses: list[KeyPress]) -> None:
            if any(press.key in _STOP_KEYS for press in presses):
                stop.set()

        def on_keys() -> None:
            nonlocal flush
            check(keys.read_keys())
            if keys.closed:
                stop.set()
            # A lone Esc waits in the parser for the rest of an escape sequence that never
            # comes: take it as Esc after a moment, as prompt-toolkit's prompts do.
            if flush is not None:
                flush.cancel()
            flush = loop.call_later(_ESCAPE_WAIT, lambda: check(keys.flush_keys()))

        try:
            with keys.raw_mode(), keys.attach(on_keys):
                await stop.wait()
        finally:
            if flush is not None:
                flush.cancel()


class ScriptTerminal:
    """Answers read line by line from a file or pipe, echoed so the transcript reads well.

    Lines starting with ``#`` are comments: they are copied to the output and skipped; the first
    comment after answers starts a lesson's next step, and ``on_step_end`` runs before it is
    copied (the shell checks the questions the step asked).  A daemon thread reads the source,
    because the event loop cannot watch a redirected regular file, and a blocked read must not
    keep the program alive after the shell is done.
    """

    interactive = False

    def __init__(self, source: TextIO, printer: Printer) -> None:
        self.source = source
        self.printer = printer
        self._lines: asyncio.Queue[str] | None = None
        self.on_step_end: Callable[[], Awaitable[None]] | None = None
        self._answered = False  # answers were read since the last comment

    def _start_reading(self) -> asyncio.Queue[str]:
        lines: asyncio.Queue[str] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def read() -> None:
            try:
                for line in iter(self.source.readline, ""):
                    loop.call_soon_threadsafe(lines.put_nowait, line)
                loop.call_soon_threadsafe(lines.put_nowait, "")
            except RuntimeError:  # the loop closed: nobody is waiting for input any more
                pass

        threading.Thread(target=read, name="script input", daemon=True).start()
        return lines

    async def ask(self, prompt: str, completions: Sequence[str] = (), history: str = MENU) -> str:
        """Read the next line that is not a comment; write it after the prompt."""
        if self._lines is None:
            self._lines = self._start_reading()
        while True:
            line = await self._lines.get()
            if not line:
                self._lines.put_nowait("")  # the end stays the end for every later question
                raise EOFError
            answer = line.rstrip("\r\n")
            if is_comment(answer):
                if self._answered and self.on_step_end is not None:
                    await self.on_step_end()
                self._answered = False
                self.printer.hint(answer)
                continue
            self._answered = True
            self.printer.fragments([("class:prompt", prompt), ("", answer)])
            return answer

    async def until_interrupt(self) -> None:
        """A script cannot press Ctrl+C: this waits until cancelled (callers use deadlines)."""
        await asyncio.Event().wait()
