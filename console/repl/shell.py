"""The menu loop: show the menu, read a choice, run the command, report, and again.

Every failure inside a command becomes one ``❌`` line (a bad answer in a script, an engine that
went away; at a terminal a bad answer is asked again, see ``context.py``), an empty answer,
Ctrl+C or Ctrl+D at a question cancels the command at hand and returns to the menu, and option
15, Ctrl+D at the menu or the end of a script stop what the session started and end the loop
with exit status 0.  ``wait N`` at the prompt pauses a script, ``tempo N`` slows the cluster
down, ``ask ...`` asks a question that is checked when its step ends: at the script's next
comment, the next question or the end (``commands/script.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Literal

from console.ops.catalogue import CATALOGUE, EXIT, NUMBERED, Name, numbered, refusal
from console.ops.errors import OpsError
from console.ops.lessons import ASK, TEMPO, WAIT, directive
from console.ops.numbers import is_choice_number
from console.ops.outcomes import failed
from console.repl.commands import cluster, data, observers, producers, subscriptions
from console.repl.commands.cluster import START_A_NODE
from console.repl.commands.script import ask, check_questions, tempo, wait
from console.repl.context import Cancelled, Context
from console.repl.menu import COMPACT_MENU, MENU_REQUESTS, PROMPT, TITLES, render_menu
from console.repl.terminal import ScriptTerminal
from engine.client import GateError

log = logging.getLogger(__name__)

Command = Callable[[Context], Awaitable[None]]

# Each menu option's command, by the catalogue's name (its number and title come from there).
HANDLERS: dict[Name, Command] = {
    "observer_by_stream": observers.create_by_stream,
    "observer_by_type": observers.create_by_event_type,
    "observer_by_payload": observers.create_by_payload,
    "list_observers": observers.list_observers,
    "monitor": observers.monitor_observer,
    "stop_observer": observers.stop_observer,
    "start_producers": producers.start_producers,
    "stop_producer": producers.stop_producer,
    "list_producers": producers.list_producers,
    "create_subscription": subscriptions.create_subscription,
    "list_subscriptions": subscriptions.list_subscriptions,
    "view_stream": data.view_stream,
    "append_events": data.append_events,
    "cluster_status": cluster.cluster_status,
    "node_detail": cluster.node_detail,
    **{
        op.name: functools.partial(cluster.node_action, action=action)
        for op in CATALOGUE
        if (action := op.node_action) is not None
    },
    "greenhouse": cluster.greenhouse,
    "append_event": data.append_chosen_event,
    "browse_stream": data.browse_stream,
    "consumer_policy": subscriptions.consumer_policy,
    "replay_parked": subscriptions.replay_parked,
    "node_log": cluster.node_log,
    "transfer_leader": cluster.transfer_leader,
    "isolate_node": cluster.isolate_node,
    "heal_node": cluster.heal_node,
    "add_node": cluster.add_node,
    "remove_node": cluster.remove_node,
    "set_tempo": cluster.set_tempo,
    "link_fault": cluster.link_fault,
    "message_trace": cluster.message_trace,
}
COMMANDS: dict[int, Command] = {
    number: HANDLERS[op.name] for number, op in NUMBERED.items() if number != EXIT
}
CHOICES = sorted(NUMBERED)
FIRST_VIEW = 5.0  # seconds the first menu waits for the cluster view (then shows all as offered)
# What an answer at the menu led to (``ReplShell.choose``).
Chosen = Literal["more", "exit", "ended"]
# The directive lines at the menu prompt and their commands (the keywords of the lessons' parser).
DIRECTIVE_COMMANDS: dict[str, Callable[[Context, str], Awaitable[None]]] = {
    WAIT: wait,
    TEMPO: tempo,
    ASK: ask,
}


class ReplShell:
    """The menu shell over one ``Context``."""

    def __init__(self, ctx: Context, *, handle_sigint: bool = False, menu: bool = True) -> None:
        self.ctx = ctx
        self.handle_sigint = handle_sigint
        self.menu = menu  # False where there is no menu to show again (a dashboard's lesson)
        self._command: asyncio.Task[bool] | None = None
        if isinstance(ctx.terminal, ScriptTerminal):
            # A comment after answers starts the script's next step: its questions are checked.
            ctx.terminal.on_step_end = functools.partial(check_questions, ctx)

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
        if ops.access.label:  # tokens limit someone: say what this console may do
            printer.line(f"🔑 As {ops.access.label}: the menu shows what that role may do")
        if self.ctx.terminal.interactive:
            printer.hint(
                "Tab completes · ↑ recalls answers · Ctrl+C cancels · Ctrl+D at the menu exits"
            )

    async def _loop(self) -> None:
        terminal, printer = self.ctx.terminal, self.ctx.printer
        # The first menu marks what the backend does not offer: it waits for the cluster view.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ctx.ops.health.first(), FIRST_VIEW)
        self._render_menu()
        while True:
            try:
                answer = (await terminal.ask(PROMPT, self.choices())).strip()
            except EOFError:
                await check_questions(self.ctx)
                return
            except KeyboardInterrupt:
                printer.hint("(type 15 or press Ctrl+D to exit)")
                continue
            if await self.choose(answer) != "more":
                await check_questions(self.ctx)
                return
            if terminal.interactive:
                # The whole menu would push the answer off an 80x24 screen: a reminder instead.
                printer.hint(COMPACT_MENU)

    def choices(self) -> list[str]:
        """The menu's numbers the console's role may run (what Tab completes at the menu)."""
        role = self.ctx.ops.access.role
        return [str(n) for n in CHOICES if numbered(n).allowed(role)]

    async def choose(self, answer: str) -> Chosen:
        """Act on one answer at the menu prompt (a number, a directive line, a request for the
        menu): ``more`` to read the next one, ``exit`` after option 15, ``ended`` when the
        input ended inside a command.  ``gate-console --lesson`` plays its steps through here."""
        printer = self.ctx.printer
        if answer.lower() in MENU_REQUESTS:
            if self.menu:
                self._render_menu()
            return "more"
        number = int(answer) if is_choice_number(answer, CHOICES[-1]) else None
        if number == EXIT:
            return "exit"
        keyword = directive(answer)
        if keyword is not None:
            # Not a numbered option: the menu stays the classic one, a script still paces.
            run = DIRECTIVE_COMMANDS[keyword]

            async def command(ctx: Context) -> None:
                await run(ctx, answer)

            done = await self._run(command, keyword)
            return "more" if done else "ended"
        if number not in COMMANDS:
            # docs/CONSOLE.md: bad input gets a clear ❌ line and the menu again.
            printer.error(
                f"Invalid choice {answer!r}. Please type a number from 1 to {CHOICES[-1]}."
            )
            if self.menu:
                self._render_menu()
            return "more"
        return "more" if await self.dispatch(number) else "ended"

    def _render_menu(self) -> None:
        ops = self.ctx.ops
        render_menu(self.ctx.printer, ops.access.role, ops.offer)

    async def dispatch(self, number: int) -> bool:
        """Run one command; False when the input ended (Ctrl+D or the end of the script).
        An option the console's role may not run, or the cluster's backend does not offer, is
        refused in one line, before any of its questions."""
        entry = numbered(number)
        refused = refusal(entry, self.ctx.ops.access.role) or self.ctx.ops.offer.refusal(entry)
        if refused is not None:
            self.ctx.printer.error(f"Option {number}: {refused}")
            return True
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
        except (OpsError, GateError) as exc:
            printer.outcome(await failed(exc, self.ctx.ops.cluster, START_A_NODE))
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
