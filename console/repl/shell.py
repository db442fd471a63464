"""The menu loop: show the menu, read a choice, run the command, report, and again.

Every failure inside a command becomes one ``❌`` line (a bad answer in a script, an engine that
went away; at a terminal a bad answer is asked again, see ``context.py``), an empty answer,
Ctrl+C or Ctrl+D at a question cancels the command at hand and returns to the menu, and option
15, Ctrl+D at the menu or the end of a script stop what the session started and end the loop
with exit status 0.  ``wait N`` at the prompt pauses a script (``commands/script.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Awaitable, Callable

from console.ops.cluster import ClusterOps
from console.ops.errors import OpsError
from console.ops.numbers import is_choice_number
from console.repl.commands import cluster, data, observers, producers, subscriptions
from console.repl.commands.cluster import START_A_NODE
from console.repl.commands.script import is_wait, wait
from console.repl.context import Cancelled, Context
from console.repl.menu import COMPACT_MENU, EXIT, MENU_REQUESTS, PROMPT, TITLES, render_menu
from engine.client import GateError

log = logging.getLogger(__name__)

Command = Callable[[Context], Awaitable[None]]

COMMANDS: dict[int, Command] = {
    1: observers.create_by_stream,
    2: observers.create_by_event_type,
    3: observers.create_by_payload,
    4: observers.list_observers,
    5: observers.monitor_observer,
    6: observers.stop_observer,
    7: producers.start_producers,
    8: producers.stop_producer,
    9: producers.list_producers,
    10: subscriptions.create_subscription,
    11: subscriptions.list_subscriptions,
    12: data.view_stream,
    13: data.append_events,
    14: cluster.cluster_status,
    16: cluster.node_detail,
    17: functools.partial(cluster.node_action, action="stop"),
    18: functools.partial(cluster.node_action, action="kill"),
    19: functools.partial(cluster.node_action, action="start"),
    20: functools.partial(cluster.node_action, action="restart"),
    21: functools.partial(cluster.node_action, action="pause"),
    22: functools.partial(cluster.node_action, action="resume"),
    23: cluster.greenhouse,
    24: data.append_chosen_event,
    25: data.browse_stream,
    26: subscriptions.consumer_policy,
    27: subscriptions.replay_parked,
}
CHOICES = sorted([*COMMANDS, EXIT])
# How long the shell asks the gateway how many nodes are up, after an operation failed.
_STATUS_TIMEOUT = 3.0


def describe_gate_error(exc: GateError) -> str:
    """A GateError as one line for a person."""
    if exc.code in ("unavailable", "timeout"):
        return f"The engine is not answering: {exc.message}"
    if exc.code == "unauthorized":
        return "The gateway refused the token (start gate-repl with --token)"
    return f"{exc.message} ({exc.code})"


async def no_majority(cluster: ClusterOps) -> str | None:
    """The words "no majority: 1 of 3 nodes up" when too few nodes answer for a write to commit."""
    try:
        status = await asyncio.wait_for(cluster.status(), _STATUS_TIMEOUT)
    except (GateError, TimeoutError):
        return None  # the gateway is away too: the error itself says so better
    words = status.no_majority()
    return None if words is None else f"{words} {START_A_NODE}"


class ReplShell:
    """The menu shell over one ``Context``."""

    def __init__(self, ctx: Context, *, handle_sigint: bool = False) -> None:
        self.ctx = ctx
        self.handle_sigint = handle_sigint
        self._command: asyncio.Task[bool] | None = None

    async def run(self) -> int:
        """Run until option 15, Ctrl+D or the end of the script; answers the exit status."""
        self._banner()
        loop = asyncio.get_running_loop()
        if self.handle_sigint:
            # A Ctrl+C outside a prompt (e.g. while waiting for a failover) cancels the command.
            loop.add_signal_handler(signal.SIGINT, self._interrupt)
        try:
            await self._loop()
        finally:
            if self.handle_sigint:
                loop.remove_signal_handler(signal.SIGINT)
            await self.shutdown()
        return 0

    def _banner(self) -> None:
        ops, printer = self.ctx.ops, self.ctx.printer
        printer.line("🚀 Gate Interactive Console started", "class:ok")
        origin = "started by this console" if ops.started_engine else "attached"
        # One line for both: banner, menu and prompt fit an 80x24 screen with a line to spare.
        printer.line(f"Store: {ops.store} · Gateway: {ops.url} ({origin})")
        if self.ctx.terminal.interactive:
            printer.hint(
                "Tab completes · ↑ recalls answers · Ctrl+C cancels · Ctrl+D at the menu exits"
            )

    async def _loop(self) -> None:
        terminal, printer = self.ctx.terminal, self.ctx.printer
        render_menu(printer)
        while True:
            try:
                answer = (await terminal.ask(PROMPT, [str(n) for n in CHOICES])).strip()
            except EOFError:
                return
            except KeyboardInterrupt:
                printer.hint("(type 15 or press Ctrl+D to exit)")
                continue
            if answer.lower() in MENU_REQUESTS:
                render_menu(printer)
                continue
            number = int(answer) if is_choice_number(answer, CHOICES[-1]) else None
            if number == EXIT:
                return
            if is_wait(answer):
                # Not a numbered option: the menu stays the classic one, a script still paces.
                if not await self._run(functools.partial(wait, answer=answer), "wait"):
                    return
                continue
            if number not in COMMANDS:
                # docs/CONSOLE.md: bad input gets a clear ❌ line and the menu again.
                printer.error(
                    f"Invalid choice {answer!r}. Please type a number from 1 to {CHOICES[-1]}."
                )
                render_menu(printer)
                continue
            if not await self.dispatch(number):
                return
            if terminal.interactive:
                # The whole menu would push the answer off an 80x24 screen: a reminder instead.
                printer.hint(COMPACT_MENU)

    async def dispatch(self, number: int) -> bool:
        """Run one command; False when the input ended (Ctrl+D or the end of the script)."""
        return await self._run(COMMANDS[number], TITLES[number])

    async def _run(self, command: Command, title: str) -> bool:
        self._command = asyncio.create_task(self._run_command(command, title), name=title)
        try:
            return await self._command
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the shell itself is being cancelled (Ctrl+C in a script)
            self.ctx.printer.warn("Interrupted")
            return True
        finally:
            self._command = None

    async def _run_command(self, command: Command, title: str) -> bool:
        # Everything is caught inside the command's task: a KeyboardInterrupt (Ctrl+C at a
        # prompt) escaping a task would stop the event loop itself.
        printer = self.ctx.printer
        try:
            await command(self.ctx)
        except EOFError:
            return False
        except (KeyboardInterrupt, Cancelled):
            printer.warn("Cancelled")
        except OpsError as exc:
            printer.error(str(exc))
        except GateError as exc:
            # Unanswered for want of a majority: the nodes up say why; the engine's words follow,
            # as they may tell more (a write whose outcome is unknown).
            majority = None
            if exc.code in ("unavailable", "timeout"):
                majority = await no_majority(self.ctx.ops.cluster)
            if majority is None:
                printer.error(describe_gate_error(exc))
            else:
                printer.error(majority)
                printer.hint(describe_gate_error(exc))
        except Exception as exc:  # never a traceback at the console; the log keeps it
            log.exception("%s failed", title)
            printer.error(f"Unexpected error in '{title}': {type(exc).__name__}: {exc}")
        return True

    def _interrupt(self) -> None:
        if self._command is not None and not self._command.done():
            self._command.cancel()

    async def shutdown(self) -> None:
        """Stop what the session started, saying what."""
        ops, printer = self.ctx.ops, self.ctx.printer
        printer.heading("👋 Shutting down Gate Interactive Console...")
        for name in ops.observers.names():
            printer.line(f"🛑 Stopped observer: {name}", "class:warn")
        for name in ops.subscriptions.consumer_names():
            printer.line(f"🛑 Stopped consumer of subscription: {name}", "class:warn")
        for stream in ops.producers.running():
            printer.line(f"🛑 Stopped producer: {stream}", "class:warn")
        if ops.started_engine:
            printer.line("🛑 Stopping the cluster this console started…", "class:warn")
        with contextlib.suppress(GateError):
            await ops.close()
        printer.ok("Console shut down successfully!")
