"""Drive ``gate-repl``'s shell in-process through prompt-toolkit pipe input, like a person would.

Answers are typed only once the shell is waiting at the expected prompt, and everything the shell
prints goes to a plain-text transcript the tests read.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from console.ops.operations import Operations
from console.ops.session import SessionOptions
from console.repl.context import Context
from console.repl.printer import Printer
from console.repl.shell import ReplShell
from console.repl.terminal import PromptTerminal
from tests.console.waiting import eventually


class ReplDriver:
    """Types answers at prompts and reads the transcript."""

    def __init__(self, terminal: PromptTerminal, keys: PipeInput, transcript: io.StringIO) -> None:
        self.terminal = terminal
        self.keys = keys
        self.transcript = transcript
        self._answered = 0
        self._mark = 0

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return self.transcript.getvalue()

    @property
    def answered(self) -> int:
        """How many prompts had been asked when keys were last sent."""
        return self._answered

    def since_mark(self) -> str:
        """What was printed since the last answer."""
        return self.output[self._mark :]

    async def asks(self, prompt: str, timeout: float = 20.0) -> None:
        """Wait for a new prompt, and check that it contains ``prompt``."""

        def waiting() -> bool:
            asking = self.terminal.asking
            return asking is not None and self.terminal.asked > self._answered

        await eventually(waiting, timeout, f"the prompt {prompt!r}; output:\n{self.output[-800:]}")
        asking = self.terminal.asking or ""
        assert prompt in asking, f"expected the prompt {prompt!r}, the shell asks {asking!r}"

    async def answer(self, prompt: str, text: str, timeout: float = 20.0) -> None:
        """Wait for a new prompt containing ``prompt``, then type ``text`` and Enter."""
        await self.asks(prompt, timeout)
        self._answered = self.terminal.asked
        self._mark = len(self.output)
        self.keys.send_text(text + "\r")

    async def press(self, prompt: str, keys: str) -> None:
        """Wait for a new prompt containing ``prompt``, then press ``keys`` (no Enter)."""
        await self.asks(prompt)
        self._answered = self.terminal.asked
        self._mark = len(self.output)
        self.keys.send_text(keys)

    def send(self, keys: str) -> None:
        """Type ``keys`` now, whatever the shell is doing (``answer`` waits for a prompt)."""
        self._answered = self.terminal.asked
        self._mark = len(self.output)
        self.keys.send_text(keys)

    async def choose(self, option: int | str) -> None:
        """Answer the menu prompt."""
        await self.answer("Select an option", str(option))

    async def printed(self, text: str, timeout: float = 20.0) -> None:
        """Wait until ``text`` was printed since the last answer."""
        await eventually(
            lambda: text in self.since_mark(), timeout, f"{text!r} in:\n{self.since_mark()}"
        )


@asynccontextmanager
async def running_repl(
    url: str, *, seed: int = 5
) -> AsyncIterator[tuple[ReplDriver, asyncio.Task[int]]]:
    """A shell attached to ``url`` with pipe input; yields the driver and the shell's task."""
    async with repl_session(SessionOptions(connect=url), seed=seed) as (driver, task, _):
        yield driver, task


@asynccontextmanager
async def repl_session(
    options: SessionOptions,
    *,
    seed: int = 5,
    retry_deadline: float = 1.0,
    handle_sigint: bool = False,
) -> AsyncIterator[tuple[ReplDriver, asyncio.Task[int], Operations]]:
    """A shell on a session of ``options`` (a cluster it starts itself, without ``connect``)
    with pipe input; yields the driver, the shell's task and its operations.  With
    ``handle_sigint`` a SIGINT to this process interrupts the running command, as Ctrl+C does."""
    ops = await Operations.open(options, seed=seed, retry_deadline=retry_deadline)
    transcript = io.StringIO()
    with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
        terminal = PromptTerminal(
            history=lambda kind: InMemoryHistory(), input=keys, output=DummyOutput()
        )
        context = Context(ops, terminal, Printer(stream=transcript))
        shell = ReplShell(context, handle_sigint=handle_sigint)
        task = asyncio.create_task(shell.run())
        try:
            yield ReplDriver(terminal, keys, transcript), task, ops
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await ops.close()
