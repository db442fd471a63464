"""``gate-repl [--config F] [--connect URL] [--token T] [--store S] ...``: the menu shell.

At a terminal it is a prompt-toolkit session; when stdin or stdout is not a terminal it reads
the choices line by line and writes plain text (as it does under ``NO_COLOR``), so a lesson can
be a text file: ``gate-repl --connect URL < lesson.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory
from prompt_toolkit.output import create_output

from console.ops.operations import Operations
from console.ops.session import SessionError, SessionOptions
from console.repl.context import Context
from console.repl.printer import Printer
from console.repl.shell import ReplShell
from console.repl.terminal import PromptTerminal, ScriptTerminal
from console.repl.toolbar import toolbar_fragments
from domain.greenhouse.catalogue import STORE_ID
from engine.cli_support import add_tls_arguments, fail
from engine.client.preflight import PreflightError, check_start
from engine.config import ConfigError

PROGRAM = "gate-repl"


DESCRIPTION = """\
The Gate menu shell: the 15 options of the ExESDB console, by number, and a
cluster lab (16-28): node faults, snapshots, consumer policies, parked events.

Without --connect it starts a 3-node cluster in the background (gateway on
127.0.0.1:8899, nodes on 8090-8092 HTTP and 8890-8892 TCP, data under ./data)
and stops it on exit; it refuses when a Gate gateway or another program
already holds those ports. When stdin is not a terminal it reads the choices
from it, one a line, and writes plain text: a lesson is a text file."""

EPILOG = f"""\
examples:
  {PROGRAM} < examples/lessons/01-event-flow.txt
  {PROGRAM} --connect http://127.0.0.1:8899"""


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``gate-repl``."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", metavar="F", type=Path, help="cluster config to start (default: the bundled)"
    )
    parser.add_argument(
        "--connect", metavar="URL", help="attach to a running gateway instead (default: start one)"
    )
    parser.add_argument("--clear", action="store_true", help="delete the nodes' data first")
    parser.add_argument("--token", metavar="T", help="API token (default: $GATE_AUTH_TOKEN)")
    parser.add_argument(
        "--store", metavar="S", default=STORE_ID, help=f"the store to work on (default {STORE_ID})"
    )
    add_tls_arguments(parser)
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="run as a reader whatever the token may do: watch, never change",
    )
    parser.add_argument(
        "--seed", type=int, help="seed for hand-appended and produced events (default: random)"
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="do not ask before stopping or killing a node (a script is never asked)",
    )
    return parser


def data_dir() -> Path:
    """Where the shell keeps its history and log (``$XDG_DATA_HOME/gate``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gate"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gate-repl``; answers the exit status (130 after Ctrl+C)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl+C before the shell runs (the config loading, the cluster starting): no traceback.
        return 130


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        connect = check_start(args.connect, args.config, attach=PROGRAM)
    except (PreflightError, ConfigError) as exc:
        fail(PROGRAM, str(exc), 2)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    plain = not interactive or bool(os.environ.get("NO_COLOR"))
    directory = data_dir()
    try:
        (directory / "history").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(PROGRAM, f"cannot create {directory}: {exc.strerror} (set XDG_DATA_HOME)")
    # Library warnings (a producer retrying through a failover) go to a file, not the screen.
    logging.basicConfig(
        filename=directory / "repl.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    options = SessionOptions(
        config=args.config,
        connect=connect,
        clear=args.clear,
        token=args.token or os.environ.get("GATE_AUTH_TOKEN") or None,
        ca=args.ca,
        cert=args.cert,
        key=args.key,
        store=args.store,
        read_only=args.read_only,
    )
    return asyncio.run(
        _run(options, args.seed, interactive, plain, directory, confirm=not args.yes)
    )


async def _run(
    options: SessionOptions,
    seed: int | None,
    interactive: bool,
    plain: bool,
    directory: Path,
    *,
    confirm: bool,
) -> int:
    printer = Printer(stream=sys.stdout) if plain else Printer(output=create_output())
    if not options.connect:
        printer.line("⏳ Starting the cluster in the background…", "class:hint")
    try:
        ops = await Operations.open(options, seed=seed)
    except SessionError as exc:
        print(f"{PROGRAM}: {exc}", file=sys.stderr)
        return 1
    if interactive:
        terminal: PromptTerminal | ScriptTerminal = PromptTerminal(
            # One file per kind of question, so ↑ at a count recalls counts, not stream names.
            history=lambda kind: FileHistory(str(directory / "history" / kind)),
            toolbar=lambda: FormattedText(
                toolbar_fragments(ops.health.latest, ops.url, ops.access.label)
            ),
        )
    else:
        terminal = ScriptTerminal(sys.stdin, printer)
    shell = ReplShell(Context(ops, terminal, printer, confirm=confirm), handle_sigint=interactive)
    return await shell.run()


if __name__ == "__main__":
    raise SystemExit(main())
